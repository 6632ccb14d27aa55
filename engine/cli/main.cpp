// tollgate — command line entry point. Subcommands live in the other files of engine/cli/.
#include <iostream>

#include "engine/cli/commands.hpp"

int main(int argc, char** argv) {
  tollgate::cli::set_command_line(argc, argv);
  CLI::App app{"tollgate — constrained decoding: grammars compiled to per-step token masks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tollgate 0.1.0");
  tollgate::cli::add_grammar_commands(app);
  tollgate::cli::add_demo_command(app);
  tollgate::cli::add_generate_commands(app);
  CLI::App* bench = app.add_subcommand("bench", "benchmarks: the reference model's decoding, MaskBench");
  bench->require_subcommand(1);
  tollgate::cli::add_bench_decode_command(*bench);
  tollgate::cli::add_bench_maskbench_command(*bench);
  // Examples for the subcommands whose files do not give their own (check, match, compile, explain
  // and sample do: engine/cli/cmd_grammar.cpp).
  app.footer("\nExamples:\n  tollgate check grammar.gbnf schema.json\n  tollgate match json.lark -s '{\"a\": 1}'\n"
             "  tollgate sample grammar.lark -n 5\n  tollgate <subcommand> --help   (examples for each)\n"
             "Bash completion: source scripts/tollgate-completion.bash");
  app.get_subcommand("generate")->footer(
      "\nExamples:\n  tollgate generate --prompt 'Name: ' --regex '[A-Z][a-z]+' -n 8\n"
      "  tollgate generate --schema person.json --prompt 'JSON: ' --stats");
  app.get_subcommand("demo")->footer("\nExample:\n  tollgate demo        # what `make demo` runs");
  bench->footer("\nExamples:\n  tollgate bench decode --positions 64,512\n"
                "  tollgate bench maskbench ../shared/corpora/maskbench-dev --out results.jsonl");
  tollgate::cli::add_bench_batch_command(*bench);
  bench->get_subcommand("decode")->footer(
      "\nExamples:\n  tollgate bench decode --positions 64,512\n  tollgate bench decode --steps 64 --json");
  bench->get_subcommand("maskbench")->footer(
      "\nExamples:\n  tollgate bench maskbench ../shared/corpora/maskbench-dev --out results.jsonl\n"
      "  tollgate bench maskbench DIR --jobs 2 --warm --timeout 10");
  tollgate::cli::add_bench_jump_budget_commands(*bench);
  tollgate::cli::add_bench_memory_command(*bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2 (CLI11's own codes are 100 and up); a command's RuntimeError keeps its
    // code (1: refused or failed), --help and --version exit 0.
    const int rc = app.exit(e);
    return rc != 0 && !dynamic_cast<const CLI::RuntimeError*>(&e) ? 2 : rc;
  } catch (const tollgate::Error& e) {
    tollgate::cli::print_error(e);
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

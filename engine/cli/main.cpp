// tollgate — command line entry point. Subcommands live in the other files of engine/cli/.
#include <iostream>

#include "engine/cli/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tollgate — constrained decoding: grammars compiled to per-step token masks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tollgate 0.1.0");
  tollgate::cli::add_grammar_commands(app);
  tollgate::cli::add_demo_command(app);
  tollgate::cli::add_generate_commands(app);
  CLI::App* bench = app.add_subcommand("bench", "benchmarks of the reference model");
  bench->require_subcommand(1);
  tollgate::cli::add_bench_decode_command(*bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const tollgate::Error& e) {
    tollgate::cli::print_error(e);
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

# Bash completion for the tollgate command line. Takes: the words typed so far. Gives: subcommands,
# their options, the values of enumerated options, and file names for FILE arguments.
# Use: `source scripts/tollgate-completion.bash` (or copy it to /etc/bash_completion.d/tollgate).
_tollgate() {
  local cur prev sub
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  sub="${COMP_WORDS[1]}"
  local common="--regex -r --grammar -g --dialect --schema --lenient --property-order --whitespace --max-whitespace --indent --format --color --max-states --max-memory --eager-index --eager-automata-states --eager-automata-ms --no-progress --help"
  case "$prev" in
    --dialect) COMPREPLY=($(compgen -W "gbnf lark ebnf regex json-schema" -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
    --color|--colour) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
    --property-order) COMPREPLY=($(compgen -W "schema any" -- "$cur")); return ;;
    --whitespace) COMPREPLY=($(compgen -W "flexible compact pretty" -- "$cur")); return ;;
    --tokenizer|-t) COMPREPLY=($(compgen -W "llama2 llama3 qwen3 gpt4o gemma3" -- "$cur") $(compgen -f -- "$cur")); return ;;
    --grammar|-g|--schema|--out|--model|-m) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "check match compile explain sample generate demo bench --help --version" -- "$cur"))
    return
  fi
  local opts=""
  case "$sub" in
    check) opts="$common --werror" ;;
    match) opts="$common --string -s --tokenizer -t" ;;
    compile) opts="$common --tokenizer -t --threads" ;;
    explain) opts="$common" ;;
    sample) opts="$common -n --seed --max-bytes --raw" ;;
    generate) opts="--schema --regex -r --grammar --whitespace --max-whitespace --indent --item-separator --key-separator --property-order --lenient --prompt -p --max-tokens -n --temperature -t --top-p --top-k --seed -s --model -m --stats --no-jump-forward --help" ;;
    demo) opts="--help" ;;
    bench)
      if [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W "decode maskbench batch" -- "$cur"))
        return
      fi
      opts="--positions --steps --chunk --model -m --cpu-time --json --tokenizer --out --timeout --property-order --whitespace --max-whitespace --indent --lenient --jobs --threads --eager-automata-states --eager-automata-ms --cold --exec --reuse-workers --warm --no-warm-up --grammar-cache-mb --batch --budgets --grammar --help" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _tollgate tollgate

/**
 * Command-line help for the project's npm scripts: `--help`/`-h` prints the script's usage and
 * exits 0, before anything is built, started or measured; an argument the script does not take is
 * refused (exit 2, with the usage) instead of being ignored or taken for a file name. Scripts whose
 * options live in environment variables say so in their usage.
 *
 * @param {string} text - the usage, starting with the npm command
 * @param {{ flags?: Record<string, boolean>, positionals?: number, argv?: string[] }} [spec] - flags
 *   the script takes (true: takes a value), how many positional arguments
 */
export function handleUsage(text, spec = {}) {
  const { flags = {}, positionals = 0, argv = process.argv.slice(2) } = spec;
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${text.trim()}\n`);
    process.exit(0);
  }
  let free = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.split("=")[0];
    if (a.startsWith("-")) {
      if (!(name in flags)) return refuse(`unknown option ${name}`, text);
      if (flags[name] && !a.includes("=")) {
        if (i + 1 >= argv.length) return refuse(`${name} needs a value`, text);
        i++;
      }
    } else if (++free > positionals) return refuse(`unexpected argument ${JSON.stringify(a)}`, text);
  }
}

function refuse(why, text) {
  process.stderr.write(`${why}\n\n${text.trim()}\n`);
  process.exit(2);
}

import Foundation
import MegaplanCLI

// A closed pipe on stdout is a write error (EPIPE) the CLI reports, not a signal that kills it.
signal(SIGPIPE, SIG_IGN)
// Run the CLI with the real standard output, error and input, and exit with its code.
let code = CLI.run(Array(CommandLine.arguments.dropFirst()), io: .standard)
exit(code)

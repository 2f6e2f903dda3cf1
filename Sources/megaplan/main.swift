import Foundation
import MegaplanCLI

// Run the CLI with the real standard output and error, and exit with its code.
let code = CLI.run(Array(CommandLine.arguments.dropFirst()), io: .standard)
exit(code)

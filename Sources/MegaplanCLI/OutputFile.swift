import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file the CLI could not write (`--chart`, `--emit-config`): one line on stderr, exit 64, no
/// usage line (the command line was right; the file system said no).
struct OutputError: Error, Equatable {
  var message: String
}

/// Files the CLI writes (`--chart OUT.svg`, `--emit-config OUT.yaml`), written *through* the path
/// as a shell redirection does: `open(O_WRONLY|O_CREAT|O_TRUNC, 0644)`, then checked writes. A
/// symbolic link's target is written (the link stays); a device (`/dev/null`, `/dev/stdout`) or a
/// FIFO is written to, never replaced by a regular file; an existing file keeps its owner and
/// mode. (Writing a temporary file and renaming it over the path would do none of that.)
enum OutputFile {
  /// Whether `path` can be written, checked before the work that produces its content so that
  /// an unwritable path fails fast and nothing else is printed. Changes nothing on disk: an
  /// existing file is opened without truncation, a missing one is checked through its folder.
  static func checkWritable(_ path: String) throws {
    var info = stat()
    if stat(path, &info) == 0 {
      switch info.st_mode & S_IFMT {
      case S_IFDIR:
        throw directory(path)
      case S_IFREG:
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, errno) }
        close(fd)
      default:
        // Devices, FIFOs, sockets: opening a FIFO would wait for a reader, so ask instead.
        guard access(path, W_OK) == 0 else { throw failure(path, errno) }
      }
      return
    }
    let code = errno
    guard code == ENOENT else { throw failure(path, code) }
    // The file would be created: its folder must exist and be writable.
    let folder = parent(of: path)
    var folderInfo = stat()
    guard stat(folder, &folderInfo) == 0 else { throw failure(path, errno) }
    guard folderInfo.st_mode & S_IFMT == S_IFDIR else { throw failure(path, ENOTDIR) }
    guard access(folder, W_OK | X_OK) == 0 else { throw failure(path, errno) }
  }

  /// Writes `text` to `path` (see the type's comment). Errors name the path and say why in the
  /// operating system's words.
  static func write(_ text: String, to path: String) throws {
    var info = stat()
    if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { throw directory(path) }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      let code = errno
      throw code == EISDIR ? directory(path) : failure(path, code)
    }
    do {
      try POSIXIO.writeAll(fd, text)
    } catch let error as SystemError {
      close(fd)
      throw failure(path, error.code)
    }
    if close(fd) != 0 {
      let code = errno
      if code != EINTR { throw failure(path, code) }
    }
  }

  /// Files of one command, staged so that nothing is written unless the whole command succeeds
  /// (`CLI.run`): `stage` writes each regular file's text beside it first (a hidden temporary in
  /// the folder of the file, or of the file a link points to), which proves the space and the
  /// permission; a device, FIFO or socket is written at once (nothing there to overwrite). Then
  /// standard output is written; only when that succeeds does `commit` write each file through
  /// its path (in place: the link, inode, owner and mode stay) and remove its temporary, and
  /// when it fails `abandon` removes the temporaries, leaving every file as it was.
  struct Staged {
    var files: [(path: String, text: String, temporary: String?)] = []

    func commit() throws {
      for file in files {
        // The temporary goes first: its space is what the file's write then takes.
        if let temporary = file.temporary { unlink(temporary) }
        try OutputFile.write(file.text, to: file.path)
      }
    }

    func abandon() {
      for case let temporary? in files.map(\.temporary) { unlink(temporary) }
    }
  }

  static func stage(_ files: [(path: String, text: String)]) throws -> Staged {
    var staged = Staged()
    do {
      for (path, text) in files {
        var info = stat()
        if stat(path, &info) == 0 {
          switch info.st_mode & S_IFMT {
          case S_IFDIR: throw directory(path)
          case S_IFREG: break
          default:
            try write(text, to: path)
            staged.files.append((path, text, nil))
            continue
          }
        }
        staged.files.append((path, text, try temporaryCopy(of: text, beside: path)))
      }
    } catch {
      staged.abandon()
      throw error
    }
    return staged
  }

  /// Writes `text` to a new hidden file in the folder `path` resolves into; errors name `path`.
  static func temporaryCopy(of text: String, beside path: String) throws -> String {
    var folder = parent(of: path)
    if let resolved = realpath(path, nil) {
      folder = parent(of: String(cString: resolved))
      free(resolved)
    }
    var template = Array("\(folder)/.megaplan-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
      guard let base = buffer.baseAddress else { return -1 }
      return mkstemp(base)
    }
    guard fd >= 0 else { throw failure(path, errno) }
    let temporary = String(cString: template)
    do {
      try POSIXIO.writeAll(fd, text)
    } catch let error as SystemError {
      close(fd)
      unlink(temporary)
      throw failure(path, error.code)
    }
    if close(fd) != 0, errno != EINTR {
      let code = errno
      unlink(temporary)
      throw failure(path, code)
    }
    return temporary
  }

  static func directory(_ path: String) -> OutputError {
    OutputError(message: "cannot write '\(path)': it is a directory")
  }

  static func failure(_ path: String, _ code: Int32) -> OutputError {
    OutputError(message: "cannot write '\(path)': \(SystemError(code: code))")
  }

  /// The folder a new file at `path` would be created in ("." for a bare name).
  static func parent(of path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    if slash == trimmed.startIndex { return "/" }
    return String(trimmed[..<slash])
  }
}

import DeepScratch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads the official MNIST files and verifies their SHA-256 sums.
struct MNISTDownloader {
    /// SHA-256 of the official gzip files (from ../shared/data/README.md).
    static let sha256: [String: String] = [
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ]

    /// Public mirrors of the original files, tried in order.
    static let defaultMirrors = [
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ]

    /// Base URLs to try: `$DEEPSCRATCH_MNIST_MIRROR` alone when set, else the public mirrors.
    var mirrors: [String] = {
        if let m = ProcessInfo.processInfo.environment["DEEPSCRATCH_MNIST_MIRROR"], !m.isEmpty { return [m] }
        return MNISTDownloader.defaultMirrors
    }()

    /// The expected sums (replaceable in tests).
    var expected = MNISTDownloader.sha256

    /// Seconds a request may stay idle before it fails (shorter in tests).
    var timeout: TimeInterval = 60

    /// Downloads the files `missing` names (without `.gz`) into `directory`.
    /// - Throws: `CLIError` saying which files to get and where to put them.
    func download(_ missing: [String], to directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CLIError("\(directory): cannot create the data folder: \(error.localizedDescription)")
        }
        Terminal.line("MNIST files missing in \(directory); downloading \(missing.count) file(s)")
        for name in missing {
            let file = name + ".gz"
            var reasons = [String]()
            var done = false
            for mirror in mirrors {
                let base = mirror.hasSuffix("/") ? mirror : mirror + "/"
                do {
                    try fetch(URL(string: base + file), file: file, to: "\(directory)/\(file)")
                    done = true
                    break
                } catch let error as CLIError {
                    reasons.append(error.message)
                }
            }
            if !done {
                throw CLIError("""
                    could not download \(file) (\(reasons.joined(separator: "; "))). \
                    Get the MNIST files \(missing.map { $0 + ".gz" }.joined(separator: ", ")) \
                    (e.g. from \(MNISTDownloader.defaultMirrors[0])) and put them in \(directory), \
                    or point --data or DEEPSCRATCH_DATA at a folder that has them
                    """)
            }
        }
    }

    /// Downloads one file to `destination`, via a `.part` file that is
    /// renamed only after its SHA-256 matched.
    private func fetch(_ url: URL?, file: String, to destination: String) throws {
        guard let url else { throw CLIError("bad mirror URL") }
        let partial = destination + ".part"
        let delegate = DownloadDelegate(label: file, keepAt: partial)
        // Whatever happens below, no partial download is left behind.
        defer { try? FileManager.default.removeItem(atPath: partial) }
        let session = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        session.downloadTask(with: request).resume()
        delegate.done.wait()
        Terminal.progress("")
        if let error = delegate.error { throw CLIError("\(url.absoluteString): \(error)") }
        guard delegate.saved else { throw CLIError("\(url.absoluteString): no data") }
        guard let bytes = FileManager.default.contents(atPath: partial) else {
            throw CLIError("\(partial): downloaded file vanished")
        }
        let digest = SHA256.hex([UInt8](bytes))
        if let want = expected[file], digest != want {
            throw CLIError("\(url.absoluteString): SHA-256 is \(digest), expected \(want)")
        }
        guard rename(partial, destination) == 0 else {
            throw CLIError("\(destination): cannot save: \(String(cString: strerror(errno)))")
        }
        Terminal.line("downloaded \(file) (\(Format.bytes(bytes.count)), SHA-256 verified)")
    }
}

/// Collects one download's outcome and draws its progress bar.
private final class DownloadDelegate: NSObject, URLSessionDownloadDelegate, @unchecked Sendable {
    let label: String
    let keepAt: String
    let done = DispatchSemaphore(value: 0)
    var saved = false
    var error: String?
    private var lastDraw = 0.0

    init(label: String, keepAt: String) {
        self.label = label
        self.keepAt = keepAt
    }

    func urlSession(_ session: URLSession, downloadTask: URLSessionDownloadTask, didFinishDownloadingTo location: URL) {
        if let http = downloadTask.response as? HTTPURLResponse, http.statusCode != 200 {
            error = "HTTP status \(http.statusCode)"
            return
        }
        // The system removes `location` when this method returns: move it
        // beside its destination (same file system, so the final rename is atomic).
        try? FileManager.default.removeItem(atPath: keepAt)
        do {
            try FileManager.default.moveItem(at: location, to: URL(fileURLWithPath: keepAt))
            saved = true
        } catch {
            self.error = "cannot keep the download: \(error.localizedDescription)"
        }
    }

    func urlSession(_ session: URLSession, downloadTask: URLSessionDownloadTask, didWriteData bytesWritten: Int64,
                    totalBytesWritten: Int64, totalBytesExpectedToWrite: Int64) {
        let now = monotonicSeconds()
        guard now - lastDraw > 0.1 else { return }
        lastDraw = now
        if totalBytesExpectedToWrite > 0 {
            let f = Double(totalBytesWritten) / Double(totalBytesExpectedToWrite)
            Terminal.progress("\(label) \(Terminal.bar(f)) \(Format.bytes(Int(totalBytesWritten))) of \(Format.bytes(Int(totalBytesExpectedToWrite)))")
        } else {
            Terminal.progress("\(label) \(Format.bytes(Int(totalBytesWritten)))")
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error, self.error == nil { self.error = error.localizedDescription }
        done.signal()
    }
}

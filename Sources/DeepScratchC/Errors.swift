import DeepScratch
import Glibc

/// The status codes of deepscratch.h.
enum Status: Int32 {
    case ok = 0
    case invalidArgument = 1
    case io = 2
    case badModel = 3
    case badImage = 4
    case versionMismatch = 5
    case internalError = 6
}

/// The per-thread message of the last failed call: a malloc'ed C string per
/// thread, freed when the thread ends.
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

private let emptyMessage: StaticString = ""

/// Records `message` as the calling thread's last error and returns `status`.
func fail(_ status: Status, _ message: String) -> Int32 {
    let old = pthread_getspecific(errorKey)
    let copy = strdup(message)
    pthread_setspecific(errorKey, copy.map { UnsafeRawPointer($0) })
    free(old)
    return status.rawValue
}

/// The status and message for an engine error.
func fail(_ error: Error) -> Int32 {
    guard let e = error as? DeepScratchError else { return fail(.internalError, "\(error)") }
    switch e {
    case .cannotRead, .cannotWrite: return fail(.io, e.description)
    case .badModel: return fail(.badModel, e.description)
    case .badImage: return fail(.badImage, e.description)
    case .invalidSetting: return fail(.invalidArgument, e.description)
    default: return fail(.internalError, e.description)
    }
}

/// The calling thread's last error message ("" if none).
@c(ds_last_error)
public func ds_last_error() -> UnsafePointer<CChar> {
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return UnsafeRawPointer(emptyMessage.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// `size_t` → `Int`, or nil past `Int.max` (a trap otherwise).
@inline(__always)
func count(_ n: Int) -> Int? { n >= 0 ? n : nil }

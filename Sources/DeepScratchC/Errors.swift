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
/// thread, freed when the thread ends (the library stays mapped for that
/// destructor: CLibrarySupport pins it against dlclose). Nil if the system
/// had no key left to give.
private let errorKey: pthread_key_t? = {
    var key = pthread_key_t()
    return pthread_key_create(&key) { releaseMessage($0) } == 0 ? key : nil
}()

private let emptyMessage: StaticString = ""
private let noStorageMessage: StaticString =
    "libdeepscratch: the call failed, but its message was lost: no per-thread storage (pthread_key_create failed)"
private let noMemoryMessage: StaticString = "libdeepscratch: the call failed, but its message was lost: out of memory"

/// Records `message` as the calling thread's last error and returns `status`.
func fail(_ status: Status, _ message: String) -> Int32 {
    guard let errorKey else { return status.rawValue }
    let old = pthread_getspecific(errorKey)
    let copy = strdup(message)
    // Without memory for the copy the slot holds the fixed text's address, which is never freed.
    let stored = copy.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(noMemoryMessage.utf8Start)
    pthread_setspecific(errorKey, stored)
    releaseMessage(old)
    return status.rawValue
}

/// Frees a stored message (not the fixed out-of-memory text).
private func releaseMessage(_ p: UnsafeMutableRawPointer?) {
    if let p, UnsafeRawPointer(p) != UnsafeRawPointer(noMemoryMessage.utf8Start) { free(p) }
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
    guard let errorKey else { return UnsafeRawPointer(noStorageMessage.utf8Start).assumingMemoryBound(to: CChar.self) }
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return UnsafeRawPointer(emptyMessage.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// `size_t` → `Int`, or nil past `Int.max` (a trap otherwise).
@inline(__always)
func count(_ n: Int) -> Int? { n >= 0 ? n : nil }

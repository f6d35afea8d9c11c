// The C ABI of libdeepscratch.so. Every function here is declared in
// include/deepscratch.h, which is the contract; these files only convert
// arguments, call the engine, and turn every error into a status code.
import DeepScratch
import Glibc

/// The library version as a static C string, "MAJOR.MINOR.PATCH".
@c(ds_version)
public func ds_version() -> UnsafePointer<CChar> {
    libraryVersion
}

/// The library's major version.
@c(ds_version_major)
public func ds_version_major() -> Int32 { libraryMajor }

/// The library's minor version (since 1.2).
@c(ds_version_minor)
public func ds_version_minor() -> Int32 { Int32(DeepScratchVersion.minor) }

/// DS_OK if the caller's header has the library's major version.
@c(ds_check_version)
public func ds_check_version(_ headerMajor: Int32) -> Int32 {
    guard headerMajor == libraryMajor else {
        return fail(.versionMismatch,
                    "deepscratch.h major version \(headerMajor) does not match libdeepscratch \(DeepScratchVersion.string) (major \(libraryMajor)); rebuild against the installed header")
    }
    return Status.ok.rawValue
}

/// A static name for a status code.
@c(ds_status_name)
public func ds_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    let name: StaticString
    switch Status(rawValue: status) {
    case .ok: name = "DS_OK"
    case .invalidArgument: name = "DS_ERR_INVALID_ARGUMENT"
    case .io: name = "DS_ERR_IO"
    case .badModel: name = "DS_ERR_BAD_MODEL"
    case .badImage: name = "DS_ERR_BAD_IMAGE"
    case .versionMismatch: name = "DS_ERR_VERSION_MISMATCH"
    case .internalError: name = "DS_ERR_INTERNAL"
    case nil: name = "DS_ERR_UNKNOWN"
    }
    return UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// `DeepScratchVersion.string` as a C string made once (a global's first
/// use is thread-safe) and never freed or written (hence nonisolated).
nonisolated(unsafe) private let libraryVersion: UnsafePointer<CChar> = UnsafePointer(strdup(DeepScratchVersion.string)!)
private let libraryMajor = Int32(DeepScratchVersion.major)

// The C ABI of libdeepscratch.so. Every function here is declared in
// include/deepscratch.h, which is the contract; this file only converts.

/// The library version as a static C string, "MAJOR.MINOR.PATCH".
@_cdecl("ds_version")
public func ds_version() -> UnsafePointer<CChar> {
    UnsafeRawPointer(deepScratchVersionString.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// The library's major version (must equal DS_VERSION_MAJOR of the header a
/// program was compiled with).
@_cdecl("ds_version_major")
public func ds_version_major() -> Int32 { 0 }

let deepScratchVersionString: StaticString = "0.2.0"

/// Views of a `T` value or buffer as `Float`, for generic functions that run
/// their loop specialized when `T` is `Float`.
///
/// The layers are generic classes (`Float` to train, `Double` for the
/// gradient check) called through the `Layer` protocol, and Swift does not
/// specialize a generic class's methods for a concrete `T` there. A helper
/// marked `@_specialize(where T == Float)` still runs its Float version, but
/// generic code without it runs generically, at a function call per element
/// for something as small as a fill (`perf` on `dsc train --arch lenet`: 7 %
/// of the time in the bias fill of `convolve`). A helper written as
///
///     func f<T: Scalar>(_ x: UnsafePointer<T>, …) {
///         if T.self == Float.self { return fBody(asFloat(x), …) }
///         fBody(x, …)
///     }
///
/// runs `fBody<Float>`, compiled for `Float`, when `T` is `Float`. Only valid
/// under that check.
@inline(__always) func asFloat<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inline(__always) func asFloat<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inline(__always) func asFloat<T>(_ x: T) -> Float { unsafeBitCast(x, to: Float.self) }

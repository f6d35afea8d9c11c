import CKernels

/// The engine's own kernels (`Sources/CKernels`) and the instruction set
/// each runs with on this CPU, chosen when the library loads
/// (`DEEPSCRATCH_KERNELS=avx2` or `baseline` narrows the choice).
public enum EngineKernels {
    /// The convolution kernel's version: "avx512", "avx2" or "baseline".
    public static var convolution: String { String(cString: dsk_direct_conv_version()) }
    /// The sparse product's version: "avx2" or "baseline".
    public static var sparseProduct: String { String(cString: dsk_instruction_set()) }
    /// Whether the int8 first layer runs in integers (AVX-512 VNNI).
    public static var int8: Bool { dsk_u8s8_is_fast() != 0 }

    /// One line: "convolutions avx512, sparse products avx2, int8 vnni".
    public static var summary: String {
        "convolutions \(convolution), sparse products \(sparseProduct), int8 \(int8 ? "vnni" : "float")"
    }
}

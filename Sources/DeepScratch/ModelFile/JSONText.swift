/// JSON text for the strings the engine writes by hand (model metadata for
/// the C ABI, class names in ONNX files): one escaping rule for all.
public enum JSONText {
    /// `s` as a JSON string literal: quotes, backslashes and control
    /// characters escaped (`\n`, `\r`, `\t`, else `\u00XX`).
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// `["a","b"]`: the strings as a JSON array.
    public static func array(_ strings: [String]) -> String {
        "[" + strings.map(quote).joined(separator: ",") + "]"
    }
}

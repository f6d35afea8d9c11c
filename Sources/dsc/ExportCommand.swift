import ArgumentParser
import DeepScratch
import DeepScratchTools
import Foundation

/// `dsc export`: writes a model as a standard ONNX file.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a model to ONNX (opset \(ONNXExport.opsetVersion)), to serve it with ONNX Runtime or any ONNX engine.",
        discussion: """
            The ONNX graph takes '\(ONNXExport.inputName)', float [N, height·width] in [0, 1] \
            (0 background, 1 ink, as the C library's float input), standardizes \
            it as the model does (a convolutional model then reshapes it to NCHW), \
            runs the layers (Gemm, Conv, MaxPool, AveragePool, BatchNormalization, \
            activations, Softmax) and returns '\(ONNXExport.outputName)', float [N, classes]. \
            The class names are in the file's metadata ('classes', a JSON array).
            """)

    @Argument(help: "The DeepScratch model (.dsm) to export, or a shipped model's name (default, mlp).")
    var model: String

    @Argument(help: "The ONNX file to write.")
    var output: String

    func run() throws {
        let m = try Model.load(path: try ShippedModels.resolve(model))
        try ONNXExport.write(m, to: output)
        let size = Format.fileSize(output)
        print("\(output): ONNX (IR \(ONNXExport.irVersion), opset \(ONNXExport.opsetVersion)), \(m.layerList.joined(separator: " → ")), \(m.classes.count) classes, \(Format.bytes(size))")
    }
}

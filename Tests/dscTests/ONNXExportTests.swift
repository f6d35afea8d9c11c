import DeepScratch
import DeepScratchTools
import Foundation
import XCTest
@testable import dsc

/// `dsc export` checked by a real client: Python's `onnx.checker` and ONNX
/// Runtime classify the 10,000 MNIST test images and must agree with
/// DeepScratch on every label and on every probability within 1e-5, for
/// fully connected and convolutional models.
/// Needs `python3` with `onnx` and `onnxruntime` (CI installs them); the
/// test fails when they are missing.
final class ONNXExportTests: XCTestCase {
    /// The model shipped with dsc (784-512-512-10 ReLU).
    private var shippedModel: String {
        DSCHarness.root + "/Sources/dsc/Resources/default.dsm"
    }

    /// Checks each ONNX file with the checker and runs it in ONNX Runtime on
    /// `pixels.f32` (N×784, [0, 1]); compares with `<name>.ours.f32`.
    private let client = #"""
    import json, sys
    import numpy as np
    import onnx
    import onnxruntime as ort

    folder, count = sys.argv[1], int(sys.argv[2])
    x = np.fromfile(folder + "/pixels.f32", dtype=np.float32).reshape(count, -1)
    report = {}
    for name in sys.argv[3:]:
        path = folder + "/" + name + ".onnx"
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (p,) = session.run(["probabilities"], {"pixels": x})
        ours = np.fromfile(folder + "/" + name + ".ours.f32", dtype=np.float32).reshape(p.shape)
        report[name] = {
            "images": int(p.shape[0]),
            "classes": int(p.shape[1]),
            "label_mismatches": int((p.argmax(1) != ours.argmax(1)).sum()),
            "max_abs_diff": float(np.abs(p.astype(np.float64) - ours).max()),
            "opset": int(model.opset_import[0].version),
            "class_names": json.loads({e.key: e.value for e in model.metadata_props}["classes"]),
        }
    print(json.dumps(report))
    """#

    private func writeFloats(_ values: [Float], to path: String) throws {
        let data = values.withUnsafeBytes { Data($0) }
        try data.write(to: URL(fileURLWithPath: path))
    }

    func testONNXRuntimeAgreesWithDeepScratchOnAllTestImages() throws {
        let folder = try TemporaryFolder()
        let test = try DSCHarness.testSet()
        let n = test.count
        let pixels = test.pixels.map { Float($0) / 255 }
        try writeFloats(pixels, to: folder.path + "/pixels.f32")

        // The shipped model through the CLI; other activations and shapes
        // (random weights, no training needed) through the engine.
        var names = ["shipped"]
        let r = try DSCHarness.run(["export", shippedModel, folder.path + "/shipped.onnx"], home: folder.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("opset \(ONNXExport.opsetVersion)"), r.stdout)
        let variants: [(String, [Int], ActivationKind, [String]?)] = [
            ("tanh", [784, 40, 10], .tanh, nil),
            ("sigmoid", [784, 30, 20, 10], .sigmoid, nil),
            ("leaky", [784, 24, 10], .leakyReLU, nil),
            ("softmax_regression", [784, 10], .relu, DataLocation.fashionClasses),
        ]
        for (name, sizes, activation, classes) in variants {
            let net = Architecture(sizes: sizes, activation: activation).makeNetwork(Float.self, seed: 7)
            let model = Model(network: net, architecture: Architecture(sizes: sizes, activation: activation),
                              standardization: Standardization(mean: 0.13, std: 0.31), classes: classes)
            try model.save(to: "\(folder.path)/\(name).dsm")
            try ONNXExport.write(try Model.load(path: "\(folder.path)/\(name).dsm"), to: "\(folder.path)/\(name).onnx")
            names.append(name)
        }
        // int8 weights: the export carries the weights as the model file decodes them.
        let c = try DSCHarness.run(["convert", shippedModel, folder.path + "/int8.dsm", "--precision", "int8"], home: folder.path)
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(try DSCHarness.run(["export", folder.path + "/int8.dsm", folder.path + "/int8.onnx"], home: folder.path).status, 0)
        names.append("int8")

        try assertONNXRuntimeAgrees(names, folder: folder, pixels: pixels, count: n) { name in
            name == "shipped" ? self.shippedModel : "\(folder.path)/\(name).dsm"
        }
    }

    /// Convolutional models (random weights, no training needed) on the
    /// 10,000 test images: convolutions with padding and strides, max and
    /// average pooling (overlapping windows too), batch normalization folded
    /// into a convolution, kept after an activation, on the input image and
    /// after a dense layer, and a convolution straight into a dense layer.
    func testONNXRuntimeAgreesWithDeepScratchOnConvolutionalModels() throws {
        let folder = try TemporaryFolder()
        let test = try DSCHarness.testSet()
        let n = test.count
        let pixels = test.pixels.map { Float($0) / 255 }
        try writeFloats(pixels, to: folder.path + "/pixels.f32")

        let mnist = ImageShape(channels: 1, height: 28, width: 28)
        let variants: [(name: String, spec: String, activation: ActivationKind, fold: Bool, classes: [String]?)] = [
            ("cnn_folded", "conv 4 5x5 stride 2 pad 2 bn, pool 2, conv 6 3x3 bn, avgpool 2, dense 16, dense 10", .relu, true, nil),
            ("cnn_unfolded", "bn, conv 5 3x3 stride 2 same, bn, pool 3 stride 2, avgpool 2 stride 1, dense 12, bn, dense 10", .leakyReLU, true, nil),
            ("cnn_kept", "conv 4 5x5 bn, pool 2, dense 24 bn, dense 10", .tanh, false, nil),
            ("cnn_no_pool", "conv 3 4x4 stride 3 pad 1, dense 10", .sigmoid, true, DataLocation.fashionClasses),
        ]
        var names = [String]()
        for v in variants {
            let layers = try LayerSpec.parse(v.spec, input: mnist, activation: v.activation)
            let arch = Architecture(layers: layers, inputShape: mnist, activation: v.activation)
            let net = arch.makeNetwork(Float.self, seed: 5)
            // Statistics and biases away from their initial 0 and 1, so each one matters.
            for norm in net.batchNormLayers {
                for c in 0..<norm.channels {
                    norm.gamma.value.data[c] = 0.8 + 0.07 * Float(c % 6)
                    norm.beta.value.data[c] = 0.03 * Float(c % 5) - 0.05
                    norm.runningMean.data[c] = 0.04 * Float(c % 4) - 0.06
                    norm.runningVariance.data[c] = 0.5 + 0.15 * Float(c % 3)
                }
            }
            for conv in net.layers.compactMap({ $0 as? Conv2D<Float> }) where conv.usesBias {
                for f in 0..<conv.output.channels { conv.b.value.data[f] = 0.02 * Float(f % 4) - 0.03 }
            }
            for d in net.denseLayers where d.usesBias {
                for i in 0..<d.outputSize { d.b.value.data[i] = 0.03 * Float(i % 7) - 0.1 }
            }
            let model = Model(network: net, architecture: arch, standardization: Standardization(mean: 0.1307, std: 0.3081),
                              classes: v.classes, foldBatchNorm: v.fold)
            try model.save(to: "\(folder.path)/\(v.name).dsm")
            names.append(v.name)
        }
        // What the variants must exercise, as the model files list their layers.
        let listed = try names.map { try Model.load(path: "\(folder.path)/\($0).dsm").layerList }
        XCTAssertFalse(listed[0].contains { $0.hasPrefix("batchnorm") }, "folded: \(listed[0])")
        XCTAssertEqual(listed[1].filter { $0.hasPrefix("batchnorm") }, ["batchnorm 1", "batchnorm 5", "batchnorm 12"])
        XCTAssertEqual(listed[2].filter { $0.hasPrefix("batchnorm") }, ["batchnorm 4", "batchnorm 24"])
        XCTAssertTrue(listed[0].contains("conv 1 4 5 2 2") && listed[0].contains("avgpool 2 2"), "\(listed[0])")
        XCTAssertTrue(listed[1].contains("maxpool 3 2") && listed[1].contains("avgpool 2 1"), "\(listed[1])")

        // One through the CLI, the others through the engine.
        let r = try DSCHarness.run(["export", "\(folder.path)/cnn_folded.dsm", "\(folder.path)/cnn_folded.onnx"], home: folder.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("conv 1 4 5 2 2"), r.stdout)
        for name in names.dropFirst() {
            try ONNXExport.write(try Model.load(path: "\(folder.path)/\(name).dsm"), to: "\(folder.path)/\(name).onnx")
        }
        try assertONNXRuntimeAgrees(names, folder: folder, pixels: pixels, count: n) { "\(folder.path)/\($0).dsm" }
    }

    /// Odd geometries on random pixels (no dataset has their shapes), each
    /// model with its own input shape: a 2-channel 7×5 image through a
    /// stride-2 convolution, an average pool of stride 1 ≠ size 2, then a 5×5
    /// kernel larger than its 3×2 input (stride 3, pad 2: its last columns of
    /// taps lie entirely in the padding); the issue's 1×1 image, here with 3
    /// channels (3×3 kernel, stride 2, pad 1); a 9×6 image whose max pool of
    /// stride 3 > size 2 skips pixels and does not tile. ONNX Runtime and
    /// DeepScratch agree on every label and every probability within 1e-5.
    func testONNXRuntimeAgreesWithDeepScratchOnOddGeometries() throws {
        let variants: [(name: String, input: ImageShape, spec: String, listed: [String])] = [
            ("odd_7x5", ImageShape(channels: 2, height: 7, width: 5),
             "conv 3 3x3 stride 2 pad 1, avgpool 2 stride 1, conv 4 5x5 stride 3 pad 2, dense 6, dense 3",
             ["conv 2 3 3 2 1", "avgpool 2 1", "conv 3 4 5 3 2"]),
            ("odd_1x1", ImageShape(channels: 3, height: 1, width: 1), "conv 4 3x3 stride 2 pad 1, dense 3", ["conv 3 4 3 2 1"]),
            ("odd_9x6", ImageShape(channels: 1, height: 9, width: 6), "conv 3 2x2 pad 1, maxpool 2 stride 3, dense 4",
             ["conv 1 3 2 1 1", "maxpool 2 3"]),
        ]
        let n = 64
        for (v, variant) in variants.enumerated() {
            let folder = try TemporaryFolder()
            let layers = try LayerSpec.parse(variant.spec, input: variant.input, activation: .tanh)
            let arch = Architecture(layers: layers, inputShape: variant.input, activation: .tanh)
            let net = arch.makeNetwork(Float.self, seed: 31 + UInt64(v))
            var rng = RandomSource(seed: 61 + UInt64(v))
            for conv in net.convolutionLayers { for f in 0..<conv.output.channels { conv.b.value.data[f] = Float(0.1 * rng.nextGaussian()) } }
            for d in net.denseLayers { for i in 0..<d.outputSize { d.b.value.data[i] = Float(0.1 * rng.nextGaussian()) } }
            let model = Model(network: net, architecture: arch, standardization: Standardization(mean: 0.2, std: 0.4))
            for layer in variant.listed { XCTAssertTrue(model.layerList.contains(layer), "\(variant.name): \(model.layerList)") }
            let path = "\(folder.path)/\(variant.name).dsm"
            try model.save(to: path)
            try ONNXExport.write(try Model.load(path: path), to: "\(folder.path)/\(variant.name).onnx")
            let pixels = (0..<(n * variant.input.count)).map { _ in Float(rng.nextUniform()) }
            try writeFloats(pixels, to: folder.path + "/pixels.f32")
            try assertONNXRuntimeAgrees([variant.name], folder: folder, pixels: pixels, count: n) { _ in path }
        }
    }

    /// Writes our probabilities for each `names[i].onnx` (from the inference
    /// path the C library uses, on the model at `modelPath(name)`), runs the
    /// client, and asserts every label equal and every probability within 1e-5.
    private func assertONNXRuntimeAgrees(_ names: [String], folder: TemporaryFolder, pixels: [Float], count n: Int,
                                         modelPath: (String) -> String) throws {
        var ourClasses: [String: [String]] = [:]
        for name in names {
            let inference = try InferenceModel(path: modelPath(name))
            var probs = [Float](repeating: 0, count: n * inference.classCount)
            pixels.withUnsafeBufferPointer { src in
                probs.withUnsafeMutableBufferPointer { inference.probabilities(batch: src.baseAddress!, count: n, into: $0.baseAddress!) }
            }
            try writeFloats(probs, to: "\(folder.path)/\(name).ours.f32")
            ourClasses[name] = inference.model.classes
        }

        let script = try folder.write("client.py", Array(client.utf8))
        let python = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, folder.path, "\(n)"] + names)
        XCTAssertEqual(python.status, 0, "the ONNX client failed (are onnx and onnxruntime installed for python3?): \(python.stderr)")
        guard python.status == 0 else { return }
        print("ONNX client report: \(python.stdout)")
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(python.stdout.utf8)) as? [String: [String: Any]])
        for name in names {
            let r = try XCTUnwrap(report[name], name)
            XCTAssertEqual(r["images"] as? Int, n, name)
            XCTAssertEqual(r["classes"] as? Int, ourClasses[name]?.count, name)
            XCTAssertEqual(r["label_mismatches"] as? Int, 0, "\(name): every label equals ours")
            let diff = try XCTUnwrap(r["max_abs_diff"] as? Double, name)
            XCTAssertLessThan(diff, 1e-5, "\(name): probabilities agree within 1e-5")
            XCTAssertEqual(r["opset"] as? Int, Int(ONNXExport.opsetVersion), name)
            XCTAssertEqual(r["class_names"] as? [String], ourClasses[name], name)
        }
    }

    /// A model whose tensors are missing or do not fit its layers is refused
    /// with an error naming the tensor, not written as a broken graph.
    func testExportOfAConvolutionalModelWithoutFittingTensorsNamesTheTensor() throws {
        let mnist = ImageShape(channels: 1, height: 28, width: 28)
        let layers = try LayerSpec.parse("conv 2 3x3, pool 2, dense 10", input: mnist, activation: .relu)
        let arch = Architecture(layers: layers, inputShape: mnist)
        let model = Model(network: arch.makeNetwork(Float.self, seed: 1), architecture: arch,
                          standardization: Standardization(mean: 0.13, std: 0.31))
        XCTAssertNoThrow(try ONNXExport.serialize(model))
        var missing = model
        missing.parameters.removeAll { $0.name == "W1" }
        XCTAssertThrowsError(try ONNXExport.serialize(missing, path: "m.dsm")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("m.dsm") && text.contains("W1") && text.contains("missing"), text)
        }
        var short = model
        short.parameters[0].values.removeLast()
        XCTAssertThrowsError(try ONNXExport.serialize(short, path: "m.dsm")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("W1") && text.contains("17") && text.contains("18"), text)
        }
    }

    func testExportOfAMissingModelFailsWithOneLine() throws {
        let folder = try TemporaryFolder()
        let r = try DSCHarness.run(["export", folder.path + "/none.dsm", folder.path + "/out.onnx"], home: folder.path)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("none.dsm"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path + "/out.onnx"))
    }
}

import ArgumentParser
import DeepScratch
import DeepScratchImage
import DeepScratchTools
import Foundation

/// `dsc show`: a picture of the first images of a data set with their
/// labels, to check the data by eye before training on it.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Write a PNG grid of data set images with their labels.")

    @Argument(help: "The PNG to write.")
    var output: String

    @Option(help: "Folder with the four IDX files (default: $DEEPSCRATCH_DATA, else ~/.cache/deepscratch/mnist; with --dataset fashion, \(DataLocation.fashionDirectory)).")
    var data: String?

    @Option(help: "Named data set: mnist or fashion. (default: mnist)")
    var dataset: String?

    @Option(help: "Class names in label order, comma-separated. (default: 0,…,9, or Fashion-MNIST's names)")
    var classes: String?

    @Option(parsing: .unconditional, help: "How many images to show.")
    var count: Int = 64

    @Option(parsing: .unconditional, help: "Index of the first image shown.")
    var start: Int = 0

    @Option(help: "Split: train or test.")
    var split: String = "test"

    @Option(help: "Show what dsc train --augment makes of each image: the image, then 7 distortions of it (affine, elastic, stroke, lowres, comma-separated).")
    var augment: String?

    @Option(parsing: .unconditional, help: "Seed of the distortions shown with --augment.")
    var seed: UInt64 = 1

    func run() throws {
        guard (1...1024).contains(count) else { throw DeepScratchError.invalidSetting(name: "--count", value: "\(count)", expected: "1 to 1024 images") }
        guard ["train", "test"].contains(split) else { throw DeepScratchError.invalidSetting(name: "--split", value: split, expected: "train or test") }
        try DataLocation.checkDataset(dataset)
        let names = try DataLocation.classNames(classes, dataset: dataset)
        let directory = try DataLocation.resolve(data, dataset: dataset)
        let set = try IDXDataset.load(directory: directory, classes: names.count)
        let images = split == "test" ? set.test : set.train
        guard start >= 0, start < images.count else {
            throw DeepScratchError.invalidSetting(name: "--start", value: "\(start)", expected: "0 to \(images.count - 1)")
        }
        let augmentation = try augment.map { try Augmentation(parsing: $0) }
        // With --augment, each image is followed by 7 distortions of it: one row of 8 per image.
        let variants = augmentation == nil ? 0 : 7
        let range = start..<min(images.count, start + (variants > 0 ? max(1, count / (variants + 1)) : count))
        let n = images.featureCount
        var rng = RandomSource(seed: seed)
        var tiles: [GridTile] = []
        for i in range {
            let label = names[Int(images.labels[i])]
            let original = Array(images.pixels[(i * n)..<((i + 1) * n)])
            tiles.append(GridTile(pixels: original[...], rows: images.rows, cols: images.cols, captions: [(label, RGB.black)]))
            guard let augmentation, variants > 0 else { continue }
            var draws: [Double] = []
            augmentation.draw(count: variants, rows: images.rows, cols: images.cols, from: &rng, into: &draws)
            let perImage = augmentation.drawsPerImage(rows: images.rows, cols: images.cols)
            var work = [Float](repeating: 0, count: Augmentation.workSize(rows: images.rows, cols: images.cols)), distorted = [UInt8](repeating: 0, count: n)
            for v in 0..<variants {
                original.withUnsafeBufferPointer { src in
                    draws.withUnsafeBufferPointer { u in
                        augmentation.distort(src.baseAddress!, rows: images.rows, cols: images.cols,
                                             draws: u.baseAddress! + v * perImage, dx: 0, dy: 0,
                                             work: &work, into: &distorted)
                    }
                }
                tiles.append(GridTile(pixels: distorted[...], rows: images.rows, cols: images.cols,
                                      captions: [(label, RGB(40, 90, 200))]))
            }
        }
        let title = "\((directory as NSString).lastPathComponent) \(split) \(range.lowerBound)-\(range.upperBound - 1)"
            + (augmentation.map { " augment \($0) seed \(seed)" } ?? "")
        let canvas = ImageGrid.draw(tiles, columns: 8, scale: 2, title: title)
        try PNG.write(canvas, to: output)
        print("\(output): \(canvas.width)x\(canvas.height), \(tiles.count) \(split) images of \(directory)")
    }
}

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
        let range = start..<min(images.count, start + count)
        let n = images.featureCount
        let tiles = range.map { i in
            GridTile(pixels: images.pixels[(i * n)..<((i + 1) * n)], rows: images.rows, cols: images.cols,
                     captions: [(names[Int(images.labels[i])], RGB.black)])
        }
        let title = "\((directory as NSString).lastPathComponent) \(split) \(range.lowerBound)-\(range.upperBound - 1)"
        let canvas = ImageGrid.draw(tiles, columns: 8, scale: 2, title: title)
        try PNG.write(canvas, to: output)
        print("\(output): \(canvas.width)x\(canvas.height), \(tiles.count) \(split) images of \(directory)")
    }
}

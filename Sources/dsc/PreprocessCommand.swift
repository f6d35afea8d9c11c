import ArgumentParser
import DeepScratch
import DeepScratchImage
import DeepScratchTools
import Foundation

/// `dsc preprocess`: writes the 28x28 image the network sees.
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Write the 28x28 image a PNG becomes before classification (light digit on black, as in MNIST).")

    @Argument(help: "The PNG to read.")
    var input: String

    @Argument(help: "The 28x28 grayscale PNG to write.")
    var output: String

    func run() throws {
        let image = try PNG.read(path: input)
        let pixels = try DigitPreprocessor().process(image, name: input)
        try PNG.writeGray(width: 28, height: 28, pixels: pixels, to: output)
        print("\(output): 28x28, from \(input) (\(image.width)x\(image.height))")
    }
}

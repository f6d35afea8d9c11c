import DeepScratch
/// One image of a grid with the caption lines drawn under it.
public struct GridTile: Sendable {
    /// `rows × cols` gray bytes (0 black), row-major.
    public var pixels: ArraySlice<UInt8>
    public var rows: Int
    public var cols: Int
    /// Lines of text under the image, each in its color.
    public var captions: [(text: String, color: RGB)]

    public init(pixels: ArraySlice<UInt8>, rows: Int, cols: Int, captions: [(text: String, color: RGB)]) {
        precondition(pixels.count == rows * cols)
        self.pixels = pixels
        self.rows = rows
        self.cols = cols
        self.captions = captions
    }
}

/// A grid of captioned images on white: `dsc show` and `dsc eval --mistakes`.
public enum ImageGrid {
    /// Space around each cell's content, in pixels.
    public static let padding = 6
    /// Height of one caption line.
    public static let lineHeight = BitmapFont.glyphHeight + 3
    /// Captions longer than this many characters are cut.
    public static let maximumCaption = 24

    /// Captions are drawn twice as large when every one fits under its image (short labels such as digits).
    public static func captionScale(_ tiles: [GridTile], scale: Int) -> Int {
        tiles.allSatisfy { t in t.captions.allSatisfy { BitmapFont.width($0.text, scale: 2) <= t.cols * scale } } ? 2 : 1
    }

    /// The cell size for `tiles` drawn `scale` times enlarged.
    public static func cellSize(_ tiles: [GridTile], scale: Int) -> (width: Int, height: Int) {
        let textScale = captionScale(tiles, scale: scale)
        let imageWidth = tiles.map { $0.cols * scale }.max() ?? 0
        let imageHeight = tiles.map { $0.rows * scale }.max() ?? 0
        let textWidth = tiles.flatMap { $0.captions.map { BitmapFont.width(String($0.text.prefix(maximumCaption)), scale: textScale) } }.max() ?? 0
        let lines = tiles.map(\.captions.count).max() ?? 0
        return (max(imageWidth, textWidth) + 2 * padding, imageHeight + lines * lineHeight * textScale + 2 * padding)
    }

    /// The grid, `columns` cells wide, images enlarged `scale` times,
    /// with an optional title line on top.
    public static func draw(_ tiles: [GridTile], columns: Int = 8, scale: Int = 2, title: String? = nil) -> Canvas {
        let cell = cellSize(tiles, scale: scale)
        let textScale = captionScale(tiles, scale: scale)
        let cols = max(1, min(columns, tiles.count))
        let rows = max(1, (tiles.count + cols - 1) / cols)
        // The title is drawn twice as large when that fits above the cells.
        let titleScale = title.map { BitmapFont.width($0, scale: 2) + 2 * padding <= cols * cell.width ? 2 : 1 } ?? 1
        let top = title == nil ? 0 : titleScale * lineHeight + padding
        let width = max(cols * cell.width, title.map { BitmapFont.width($0, scale: titleScale) + 2 * padding } ?? 0)
        var canvas = Canvas(width: width, height: top + rows * cell.height)
        if let title { canvas.text(title, x: padding, y: padding, .black, scale: titleScale) }
        for (i, tile) in tiles.enumerated() {
            let x = (i % cols) * cell.width, y = top + (i / cols) * cell.height
            let imageX = x + (cell.width - tile.cols * scale) / 2
            canvas.draw(gray: tile.pixels, width: tile.cols, height: tile.rows, x: imageX, y: y + padding, scale: scale)
            for (line, caption) in tile.captions.enumerated() {
                let text = String(caption.text.prefix(maximumCaption))
                canvas.text(text, x: x + (cell.width - BitmapFont.width(text, scale: textScale)) / 2,
                            y: y + padding + tile.rows * scale + 3 * textScale + line * lineHeight * textScale,
                            caption.color, scale: textScale)
            }
        }
        return canvas
    }
}

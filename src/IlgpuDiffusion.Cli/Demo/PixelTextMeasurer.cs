using OxyPlot;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>
/// Measures text for the SVG figures with the Helvetica metrics built into OxyPlot's PDF renderer (managed: no font files,
/// no native library). That renderer measures in points, 3/4 of a pixel, while an SVG's font sizes are pixels, so its
/// sizes are scaled up by 4/3; unscaled, the legends and axis titles would be laid out a quarter too narrow. Widths get a
/// tenth more room besides: a viewer without Helvetica or Arial falls back to a wider face (DejaVu Sans on most Linux).
/// </summary>
internal sealed class PixelTextMeasurer : PdfRenderContext
{
    private const double PixelsPerPoint = 96.0 / 72.0, FallbackFontRoom = 1.1;

    /// <summary>A measurer for a figure of <paramref name="width"/> × <paramref name="height"/> pixels.</summary>
    public PixelTextMeasurer(double width, double height) : base(width, height, OxyColors.White)
    {
    }

    /// <inheritdoc/>
    public override OxySize MeasureText(string text, string fontFamily, double fontSize, double fontWeight)
    {
        OxySize points = base.MeasureText(text, fontFamily, fontSize, fontWeight);
        return new OxySize(points.Width * PixelsPerPoint * FallbackFontRoom, points.Height * PixelsPerPoint);
    }
}

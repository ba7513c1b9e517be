using System.Globalization;
using OxyPlot.Axes;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>
/// The horizontal axis of a curve over sampling steps: positions are log₂ of the step counts, and the ticks are exactly
/// the counts that were measured, labelled with the counts themselves.
/// </summary>
internal sealed class StepsAxis : LinearAxis
{
    private readonly double[] _ticks;

    /// <summary>An axis at the bottom titled "sampling steps", with one tick per count in <paramref name="steps"/>.</summary>
    public StepsAxis(IEnumerable<int> steps)
    {
        _ticks = steps.Select(Coordinate).ToArray();
        Position = AxisPosition.Bottom;
        Title = "sampling steps";
        LabelFormatter = x => Math.Round(Math.Pow(2, x)).ToString(CultureInfo.InvariantCulture);
        MinimumPadding = MaximumPadding = 0.05;
    }

    /// <summary>Where <paramref name="steps"/> lies on the axis.</summary>
    public static double Coordinate(int steps) => Math.Log2(steps);

    /// <inheritdoc/>
    public override void GetTickValues(out IList<double> majorLabelValues, out IList<double> majorTickValues,
        out IList<double> minorTickValues)
    {
        majorLabelValues = majorTickValues = _ticks;
        minorTickValues = [];
    }
}

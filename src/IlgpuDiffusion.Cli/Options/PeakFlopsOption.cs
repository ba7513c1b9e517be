using System.CommandLine;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// <c>--peak-tflops</c> of <c>train</c> and <c>distill</c>: the device's peak rate, against which their logs report model
/// FLOPs utilization (<see cref="TrainingConfig.PeakFlops"/>).
/// </summary>
internal sealed class PeakFlopsOption
{
    private readonly Option<double?> _option = new Option<double?>("--peak-tflops")
    {
        Description = "The device's peak TFLOP/s, for model FLOPs utilization (MFU) in the log: e.g. 989, the dense BF16 " +
            "tensor-core rate of an H100 or H200 (default: the checkpoint's when resuming, else 0: no MFU)",
    }.RequireGiven(tflops => tflops >= 0 && double.IsFinite(tflops), "a finite number ≥ 0");

    /// <summary>Adds the option to <paramref name="command"/>.</summary>
    public PeakFlopsOption(Command command) => command.Options.Add(_option);

    /// <summary>The given peak in FLOP/s, else <paramref name="baseline"/>.</summary>
    public double Apply(ParseResult parse, double baseline) => parse.GetValue(_option) is double tflops ? tflops * 1e12 : baseline;
}

using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// The <see cref="TrainingConfig"/> options of <c>train</c>. Each is applied only when given, on top of a
/// baseline: MDLM's recipe for a new run, the checkpoint's settings for a resumed one.
/// </summary>
internal sealed class TrainingOptions
{
    private static readonly TrainingConfig Defaults = TrainingConfig.Mdlm;

    private readonly Option<int?> _batch = new Option<int?>("--batch", "-b")
    {
        Description = $"Sequences per micro-batch (default {Defaults.BatchSize})",
    }.Positive();

    private readonly Option<int?> _accumulation = new Option<int?>("--accumulation")
    {
        Description = $"Micro-batches whose gradients add up to one optimizer step (default {Defaults.GradientAccumulationSteps})",
    }.Positive();

    private readonly Option<double?> _learningRate = new Option<double?>("--lr")
    {
        Description = $"Peak learning rate (default {Text(Defaults.LearningRate)})",
    }.RequireGiven(lr => lr >= 0 && double.IsFinite(lr), "a finite number ≥ 0");

    private readonly Option<int?> _warmup = new Option<int?>("--warmup")
    {
        Description = "Optimizer steps of linear warm-up to the peak learning rate " +
            $"(default {Defaults.WarmupSteps}, at most a tenth of --steps for a new run)",
    }.NotNegative();

    private readonly Option<string?> _decay = new("--decay")
    {
        Description = "Learning rate after warm-up: constant (MDLM) or cosine (to 0 at --steps) (default constant)",
    };

    private readonly Option<double?> _weightDecay = new Option<double?>("--weight-decay")
    {
        Description = $"AdamW decoupled weight decay (default {Text(Defaults.WeightDecay)})",
    }.RequireGiven(w => w >= 0, "≥ 0");

    private readonly Option<double?> _gradientClip = new Option<double?>("--grad-clip")
    {
        Description = $"Largest global gradient norm, 0 for no clipping (default {Text(Defaults.GradientClip)})",
    }.RequireGiven(c => c >= 0, "≥ 0");

    private readonly Option<double?> _emaDecay = new Option<double?>("--ema")
    {
        Description = $"Decay of the weights' moving average used for validation and sampling (default {Text(Defaults.EmaDecay)})",
    }.RequireGiven(d => d >= 0 && d < 1, "in [0, 1)");

    private readonly Option<int?> _logInterval = new Option<int?>("--log-interval")
    {
        Description = $"Optimizer steps between two log lines (default {Defaults.LogInterval})",
    }.Positive();

    private readonly Option<int?> _validationInterval = new Option<int?>("--validation-interval")
    {
        Description = $"Optimizer steps between validations, 0 for only at the end (default {Defaults.ValidationInterval})",
    }.NotNegative();

    private readonly Option<int?> _validationBatches = new Option<int?>("--validation-batches")
    {
        Description = "Most batches per validation, 0 for the whole validation split (default 0)",
    }.NotNegative();

    private readonly Option<ulong?> _seed = new("--seed")
    {
        Description = $"Seed of the initial weights, data order, diffusion times, masks and dropout (default {Defaults.Seed})",
    };

    private readonly PeakFlopsOption _peakFlops;

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public TrainingOptions(Command command)
    {
        Option[] all = [_batch, _accumulation, _learningRate, _warmup, _decay, _weightDecay, _gradientClip, _emaDecay,
            _logInterval, _validationInterval, _validationBatches, _seed];
        _decay.AcceptOnlyFromAmong("constant", "cosine");
        foreach (Option option in all) command.Options.Add(option);
        _peakFlops = new PeakFlopsOption(command);
    }

    /// <summary>
    /// <paramref name="baseline"/> with every given option applied and <see cref="TrainingConfig.MaxSteps"/> = <paramref name="steps"/>.
    /// A new run (<paramref name="resumed"/> false) without --warmup warms up for at most a tenth of its steps, so that a short
    /// run reaches its peak learning rate; a warm-up longer than <paramref name="steps"/> gets a warning.
    /// </summary>
    public TrainingConfig Apply(ParseResult parse, TrainingConfig baseline, int steps, bool resumed, CliConsole console)
    {
        int warmup = parse.GetValue(_warmup) ?? (resumed ? baseline.WarmupSteps : Math.Min(baseline.WarmupSteps, steps / 10));
        TrainingConfig config = baseline with
        {
            BatchSize = parse.GetValue(_batch) ?? baseline.BatchSize,
            GradientAccumulationSteps = parse.GetValue(_accumulation) ?? baseline.GradientAccumulationSteps,
            LearningRate = parse.GetValue(_learningRate) ?? baseline.LearningRate,
            WarmupSteps = warmup,
            Decay = parse.GetValue(_decay) is string given ? Enum.Parse<LrDecay>(given, ignoreCase: true) : baseline.Decay,
            MaxSteps = steps,
            WeightDecay = parse.GetValue(_weightDecay) ?? baseline.WeightDecay,
            GradientClip = parse.GetValue(_gradientClip) ?? baseline.GradientClip,
            EmaDecay = parse.GetValue(_emaDecay) ?? baseline.EmaDecay,
            LogInterval = parse.GetValue(_logInterval) ?? baseline.LogInterval,
            ValidationInterval = parse.GetValue(_validationInterval) ?? baseline.ValidationInterval,
            ValidationBatches = parse.GetValue(_validationBatches) ?? baseline.ValidationBatches,
            Seed = parse.GetValue(_seed) ?? baseline.Seed,
            PeakFlops = _peakFlops.Apply(parse, baseline.PeakFlops),
        };
        config.Validate();
        if (warmup > steps)
            console.Error.WriteLine($"warning: the warm-up of {warmup} steps is longer than the run's {steps}: the learning rate " +
                $"never reaches its peak {Text(config.LearningRate)}; pass a smaller --warmup.");
        return config;
    }

    private static string Text(double value) => value.ToString("G", CultureInfo.InvariantCulture);
}

using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Distillation;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// The <see cref="DistillationConfig"/> options of <c>distill</c>: rounds, targets and divergence, and the optimizer
/// settings it takes from <see cref="DistillationConfig.Training"/>. Each is applied only when given, on top of the
/// paper's recipe (<see cref="DistillationConfig.Sdtt"/>) for a new run or the checkpoint's settings for a resumed one.
/// </summary>
internal sealed class DistillationOptions
{
    private static readonly DistillationConfig Defaults = DistillationConfig.Sdtt;

    private readonly Option<int?> _initialSteps = new Option<int?>("--initial-steps")
    {
        Description = "N₀: sampling steps of the initial teacher, a power of two; each round halves them " +
            $"(default {Defaults.InitialSamplingSteps}; e.g. 128–256 for short models)",
    }.Positive();

    private readonly Option<int?> _minSteps = new Option<int?>("--min-steps")
    {
        Description = $"Rounds continue while the next student samples in at least this many steps (default {Defaults.MinSamplingSteps})",
    }.Positive();

    private readonly Option<int?> _stepsPerRound = new Option<int?>("--steps-per-round")
    {
        Description = $"Optimizer steps per round (default {Defaults.StepsPerRound})",
    }.Positive();

    private readonly Option<int?> _teacherSteps = new Option<int?>("--teacher-steps")
    {
        Description = $"K: ancestral teacher steps behind each target (default {Defaults.TeacherSteps})",
    }.RequireGiven(k => k >= 1 && k <= 64, "in [1, 64]");

    private readonly Option<string?> _divergence = new("--divergence")
    {
        Description = "What the student minimizes: kld (reverse KL, the paper's), fkld (forward KL), " +
            "mse (on log-probs) or tvd (default kld)",
    };

    private readonly Option<bool> _compat = new("--compat-released-code")
    {
        Description = "Reproduce the released code instead of the paper: " +
            "its teacher time grid (fewer first-step reveals) and TVD as L1 on log-probs",
    };

    private readonly Option<bool> _teacherFromEma = new("--teacher-from-ema")
    {
        Description = "At a round's end the teacher becomes the student's EMA weights instead of its raw weights",
    };

    private readonly Option<bool> _resetOptimizer = new("--reset-optimizer")
    {
        Description = "Zero Adam's moments and step count at each round's end",
    };

    private readonly Option<bool> _resetEma = new("--reset-ema")
    {
        Description = "Restart the EMA from the student's weights at each round's end",
    };

    private readonly Option<int?> _batch = new Option<int?>("--batch", "-b")
    {
        Description = $"Sequences per micro-batch (default {Defaults.Training.BatchSize})",
    }.Positive();

    private readonly Option<int?> _accumulation = new Option<int?>("--accumulation")
    {
        Description = $"Micro-batches whose gradients add up to one optimizer step (default {Defaults.Training.GradientAccumulationSteps})",
    }.Positive();

    private readonly Option<double?> _learningRate = new Option<double?>("--lr")
    {
        Description = $"Learning rate after warm-up, constant (default {Text(Defaults.Training.LearningRate)})",
    }.RequireGiven(lr => lr >= 0 && double.IsFinite(lr), "a finite number ≥ 0");

    private readonly Option<int?> _warmup = new Option<int?>("--warmup")
    {
        Description = $"Optimizer steps of linear warm-up at the start of the run (default {Defaults.Training.WarmupSteps})",
    }.NotNegative();

    private readonly Option<double?> _gradientClip = new Option<double?>("--grad-clip")
    {
        Description = $"Largest global gradient norm, 0 for no clipping (default {Text(Defaults.Training.GradientClip)})",
    }.RequireGiven(c => c >= 0, "≥ 0");

    private readonly Option<double?> _emaDecay = new Option<double?>("--ema")
    {
        Description = $"Decay of the student's moving average, kept across rounds (default {Text(Defaults.Training.EmaDecay)})",
    }.RequireGiven(d => d >= 0 && d < 1, "in [0, 1)");

    private readonly Option<bool> _noDropout = new("--no-dropout")
    {
        Description = "Run the student without dropout (the paper keeps the model's dropout on)",
    };

    private readonly Option<int?> _logInterval = new Option<int?>("--log-interval")
    {
        Description = $"Optimizer steps between two log lines (default {Defaults.Training.LogInterval})",
    }.Positive();

    private readonly Option<int?> _validationBatches = new Option<int?>("--validation-batches")
    {
        Description = "Most batches per end-of-round validation of the student, 0 for the whole validation split (default 0)",
    }.NotNegative();

    private readonly Option<ulong?> _seed = new("--seed")
    {
        Description = "Seed of data order, diffusion times, masks, dropout and the teacher's reveals and draws " +
            $"(default {Defaults.Training.Seed})",
    };

    private readonly PeakFlopsOption _peakFlops;

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public DistillationOptions(Command command)
    {
        _divergence.AcceptOnlyFromAmong("kld", "fkld", "mse", "tvd");
        Option[] all =
        [
            _initialSteps, _minSteps, _stepsPerRound, _teacherSteps, _divergence, _compat, _teacherFromEma, _resetOptimizer, _resetEma,
            _batch, _accumulation, _learningRate, _warmup, _gradientClip, _emaDecay, _noDropout, _logInterval, _validationBatches, _seed,
        ];
        foreach (Option option in all) command.Options.Add(option);
        _peakFlops = new PeakFlopsOption(command);
    }

    /// <summary><paramref name="baseline"/> with every given option applied; the learning rate stays constant after warm-up.</summary>
    /// <exception cref="ArgumentException">The settings give no round (e.g. N₀ not a power of two).</exception>
    public DistillationConfig Apply(ParseResult parse, DistillationConfig baseline)
    {
        var training = baseline.Training with
        {
            BatchSize = parse.GetValue(_batch) ?? baseline.Training.BatchSize,
            GradientAccumulationSteps = parse.GetValue(_accumulation) ?? baseline.Training.GradientAccumulationSteps,
            LearningRate = parse.GetValue(_learningRate) ?? baseline.Training.LearningRate,
            WarmupSteps = parse.GetValue(_warmup) ?? baseline.Training.WarmupSteps,
            GradientClip = parse.GetValue(_gradientClip) ?? baseline.Training.GradientClip,
            EmaDecay = parse.GetValue(_emaDecay) ?? baseline.Training.EmaDecay,
            Dropout = !parse.GetValue(_noDropout) && baseline.Training.Dropout,
            LogInterval = parse.GetValue(_logInterval) ?? baseline.Training.LogInterval,
            ValidationBatches = parse.GetValue(_validationBatches) ?? baseline.Training.ValidationBatches,
            Seed = parse.GetValue(_seed) ?? baseline.Training.Seed,
            PeakFlops = _peakFlops.Apply(parse, baseline.Training.PeakFlops),
        };
        var config = baseline with
        {
            Training = training,
            InitialSamplingSteps = parse.GetValue(_initialSteps) ?? baseline.InitialSamplingSteps,
            MinSamplingSteps = parse.GetValue(_minSteps) ?? baseline.MinSamplingSteps,
            StepsPerRound = parse.GetValue(_stepsPerRound) ?? baseline.StepsPerRound,
            TeacherSteps = parse.GetValue(_teacherSteps) ?? baseline.TeacherSteps,
            Divergence = parse.GetValue(_divergence) is string given ? Divergences[given] : baseline.Divergence,
            CompatReleasedCode = parse.GetValue(_compat) || baseline.CompatReleasedCode,
            TeacherFromEma = parse.GetValue(_teacherFromEma) || baseline.TeacherFromEma,
            ResetOptimizerEachRound = parse.GetValue(_resetOptimizer) || baseline.ResetOptimizerEachRound,
            ResetEmaEachRound = parse.GetValue(_resetEma) || baseline.ResetEmaEachRound,
        };
        return config.Validate();
    }

    private static readonly Dictionary<string, DistillationDivergence> Divergences = new()
    {
        ["kld"] = DistillationDivergence.ReverseKl,
        ["fkld"] = DistillationDivergence.ForwardKl,
        ["mse"] = DistillationDivergence.Mse,
        ["tvd"] = DistillationDivergence.Tvd,
    };

    private static string Text(double value) => value.ToString("G", CultureInfo.InvariantCulture);
}

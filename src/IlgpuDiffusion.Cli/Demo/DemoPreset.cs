using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>
/// The sizes of one demo run: the MDLM teacher, the AR judge (the GPT parameter-matched to the teacher, which is also
/// the latency baseline), the training and distillation budgets and the evaluation's sample counts.
/// </summary>
internal sealed record DemoPreset
{
    /// <summary>The preset's name (<c>--preset</c>).</summary>
    public required string Name { get; init; }

    /// <summary>What the preset is for, for the report and <c>--help</c>.</summary>
    public required string Purpose { get; init; }

    /// <summary>
    /// The teacher's shape; its length is the corpus's sequence length. Its tokenizer and vocabulary are set from
    /// <see cref="Tokenizer"/>: <see cref="Teacher"/> is the config that is trained.
    /// </summary>
    public required DitConfig Model { get; init; }

    /// <summary>
    /// The tokenizer of every stage (<see cref="Data.Tokenizer.Names"/>): the corpus, the teacher and its students, and the
    /// judge, whose vocabulary matches the teacher's.
    /// </summary>
    public string Tokenizer { get; init; } = Gpt2Tokenizer.Name;

    /// <summary>The teacher's config: <see cref="Model"/> over <see cref="Tokenizer"/>, with its ids and MASK as the vocabulary.</summary>
    public DitConfig Teacher => Model with
    {
        Tokenizer = Tokenizer,
        Vocab = Data.Tokenizer.FromName(Tokenizer).ModelVocabularySize,
    };

    /// <summary>Optimizer steps of the MDLM teacher.</summary>
    public required int TeacherSteps { get; init; }

    /// <summary>Optimizer steps of the AR judge.</summary>
    public required int JudgeSteps { get; init; }

    /// <summary>Sequences per optimizer step of the teacher, the judge and the students.</summary>
    public required int BatchSize { get; init; }

    /// <summary>Peak learning rate of the teacher and the judge.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Warm-up steps of the teacher and the judge.</summary>
    public required int WarmupSteps { get; init; }

    /// <summary>How the learning rate of the teacher and the judge moves after warm-up.</summary>
    public LrDecay Decay { get; init; } = LrDecay.Constant;

    /// <summary>N₀: the teacher's sampling steps, halved by every SDTT round.</summary>
    public required int InitialSamplingSteps { get; init; }

    /// <summary>Sampling steps of the last student.</summary>
    public int MinSamplingSteps { get; init; } = 8;

    /// <summary>Optimizer steps per SDTT round.</summary>
    public required int StepsPerRound { get; init; }

    /// <summary>Peak learning rate of distillation.</summary>
    public double DistillationLearningRate { get; init; } = 3e-4;

    /// <summary>Unconditional samples per model and step count for generative perplexity and entropy.</summary>
    public required int Samples { get; init; }

    /// <summary>Cloze passages built from held-out documents.</summary>
    public required int ClozePassages { get; init; }

    /// <summary>Antithetic time draws of the diffusion models' per-word cloze ELBO.</summary>
    public required int ClozeTimeDraws { get; init; }

    /// <summary>Validation batches (of <see cref="BatchSize"/> sequences) per model and per validation during training.</summary>
    public required int ValidationBatches { get; init; }

    /// <summary>Metrics log interval of every training stage.</summary>
    public required int LogInterval { get; init; }

    /// <summary>The command-line options that changed this preset's budgets (empty for a preset as named).</summary>
    public string Overrides { get; init; } = "";

    /// <summary>
    /// CI size: a one-block, 32-wide model on 32-token sequences and a handful of steps per stage, to check that
    /// every stage and every report section works; its numbers mean nothing.
    /// </summary>
    public static DemoPreset Tiny { get; } = new()
    {
        Name = "tiny",
        Purpose = "a check that every stage and report section works (seconds; the numbers mean nothing)",
        Model = new DitConfig { Layers = 1, Hidden = 32, Heads = 2, CondDim = 16, Length = 32, QkNorm = true },
        TeacherSteps = 4,
        JudgeSteps = 4,
        BatchSize = 4,
        WarmupSteps = 2,
        InitialSamplingSteps = 32,
        StepsPerRound = 2,
        Samples = 2,
        ClozePassages = 2,
        ClozeTimeDraws = 2,
        ValidationBatches = 1,
        LogInterval = 2,
    };

    /// <summary>
    /// The main job on two CPU cores, about 25 minutes when the machine is idle: a Tiny MDLM with QK-norm (4 layers, 256
    /// wide) over UTF-8 bytes at L 256 for 900 steps of 16 sequences, its parameter-matched GPT for 500, four SDTT rounds
    /// of 80 steps (128 → 64, 32, 16, 8 steps). Bytes and QK-norm make a teacher that reads its context within this
    /// budget (bench/results/context-study.md); the GPT-2 vocabulary stays the library's default for Hugging Face models.
    /// </summary>
    public static DemoPreset Default { get; } = new()
    {
        Name = "default",
        Purpose = "the main job: a Tiny MDLM over bytes on the embedded corpus, about 25 minutes on 2 idle CPU cores",
        Model = DitConfig.Tiny with { Length = 256, QkNorm = true },
        Tokenizer = ByteTokenizer.Name,
        TeacherSteps = 900,
        JudgeSteps = 500,
        BatchSize = 16,
        WarmupSteps = 50,
        InitialSamplingSteps = 128,
        StepsPerRound = 80,
        Samples = 16,
        ClozePassages = 50,
        ClozeTimeDraws = 4,
        ValidationBatches = 8,
        LogInterval = 25,
    };

    /// <summary>
    /// The main job's comparison with a stronger teacher, sized for about 10 minutes of teacher training on one modern
    /// GPU: an 8-layer, 512-wide MDLM with QK-norm over bytes at L 512, 1,500 steps of 32 sequences (about two passes over
    /// the embedded corpus), a matched GPT for 800, four SDTT rounds of 300 steps, 64 samples per row.
    /// </summary>
    public static DemoPreset Gpu { get; } = new()
    {
        Name = "gpu",
        Purpose = "the main job with a stronger teacher (8 × 512, bytes, L 512), about 10 minutes of teacher training on one GPU",
        Model = new DitConfig { Layers = 8, Hidden = 512, Heads = 8, Length = 512, QkNorm = true },
        Tokenizer = ByteTokenizer.Name,
        TeacherSteps = 1500,
        JudgeSteps = 800,
        BatchSize = 32,
        LearningRate = 6e-4,
        WarmupSteps = 200,
        Decay = LrDecay.Cosine,
        InitialSamplingSteps = 128,
        StepsPerRound = 300,
        Samples = 64,
        ClozePassages = 200,
        ClozeTimeDraws = 8,
        ValidationBatches = 32,
        LogInterval = 50,
    };

    /// <summary>
    /// The SDTT experiment of bench/results/sdtt-experiment.md, about 2 hours on 2 idle CPU cores: the Tiny MDLM trained for
    /// about an hour (1,500 steps of 32 sequences, cosine decay), a matched GPT judge, four SDTT rounds of 100 steps (128 → 8 steps),
    /// 32 samples per row.
    /// </summary>
    public static DemoPreset Experiment { get; } = new()
    {
        Name = "experiment",
        Purpose = "the SDTT experiment: a Tiny MDLM trained for about an hour, about 2 hours on 2 idle CPU cores",
        Model = DitConfig.Tiny,
        TeacherSteps = 1500,
        JudgeSteps = 400,
        BatchSize = 32,
        WarmupSteps = 100,
        Decay = LrDecay.Cosine,
        InitialSamplingSteps = 128,
        StepsPerRound = 100,
        Samples = 32,
        ClozePassages = 100,
        ClozeTimeDraws = 4,
        ValidationBatches = 16,
        LogInterval = 25,
    };

    /// <summary>
    /// For a GPU and your own corpus (<c>--data</c>, L 1024): the paper's Small MDLM (12 layers, 768 wide) for 20k steps
    /// of 32 sequences, a matched GPT judge, seven SDTT rounds of 2k steps (1024 → 8 steps), 64 samples per row.
    /// </summary>
    public static DemoPreset Paper { get; } = new()
    {
        Name = "paper",
        Purpose = "the paper's Small model (L 1024) on a GPU, ideally on your own large corpus via --data",
        Model = DitConfig.Small,
        TeacherSteps = 20_000,
        JudgeSteps = 10_000,
        BatchSize = 32,
        LearningRate = 3e-4,
        WarmupSteps = 2500,
        InitialSamplingSteps = 1024,
        StepsPerRound = 2000,
        DistillationLearningRate = 6e-5,
        Samples = 64,
        ClozePassages = 500,
        ClozeTimeDraws = 32,
        ValidationBatches = 64,
        LogInterval = 100,
    };

    /// <summary>This preset with the given budgets in place of its own (null keeps the preset's).</summary>
    /// <exception cref="ArgumentException">A budget is not positive.</exception>
    public DemoPreset WithBudgets(int? teacherSteps, int? judgeSteps, int? stepsPerRound)
    {
        var preset = this;
        if (teacherSteps is int teacher)
        {
            preset = preset with
            {
                TeacherSteps = Positive(teacher, "--teacher-steps"),
                Overrides = preset.Overrides + $" --teacher-steps {teacher}",
            };
        }
        if (judgeSteps is int judge)
        {
            preset = preset with
            {
                JudgeSteps = Positive(judge, "--judge-steps"),
                Overrides = preset.Overrides + $" --judge-steps {judge}",
            };
        }
        if (stepsPerRound is int round)
        {
            preset = preset with
            {
                StepsPerRound = Positive(round, "--steps-per-round"),
                Overrides = preset.Overrides + $" --steps-per-round {round}",
            };
        }
        return preset;
    }

    /// <summary>This preset over the tokenizer <paramref name="name"/> (null, or the preset's own, keeps it as it is).</summary>
    /// <exception cref="ArgumentException">No built-in tokenizer has that name.</exception>
    public DemoPreset WithTokenizer(string? name)
    {
        if (name is null || name == Tokenizer) return this;
        return this with { Tokenizer = Data.Tokenizer.FromName(name).Name, Overrides = Overrides + $" --tokenizer {name}" };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first budget or size that cannot run; returns this preset.</summary>
    public DemoPreset Validate()
    {
        if (!(Positive(LearningRate) && Positive(DistillationLearningRate)))
        {
            throw new ArgumentException(
                $"Preset '{Name}': the learning rates must be positive; got {LearningRate} and {DistillationLearningRate}.");
        }
        foreach ((int value, string what) in new[]
        {
            (TeacherSteps, "teacher steps"), (JudgeSteps, "judge steps"), (BatchSize, "batch size"), (StepsPerRound, "steps per round"),
            (MinSamplingSteps, "fewest sampling steps"), (ClozePassages, "cloze passages"), (ClozeTimeDraws, "cloze time draws"),
            (ValidationBatches, "validation batches"), (LogInterval, "log interval"),
        })
        {
            if (value < 1) throw new ArgumentException($"Preset '{Name}': the {what} must be at least 1; got {value}.");
        }
        if (WarmupSteps < 0) throw new ArgumentException($"Preset '{Name}': the warm-up cannot be negative; got {WarmupSteps}.");
        if (Samples < 2)
            throw new ArgumentException($"Preset '{Name}': a confidence interval needs at least 2 samples per row; got {Samples}.");
        if (InitialSamplingSteps < MinSamplingSteps || InitialSamplingSteps % MinSamplingSteps != 0
            || !int.IsPow2(InitialSamplingSteps / MinSamplingSteps))
            throw new ArgumentException($"Preset '{Name}': the teacher's {InitialSamplingSteps} sampling steps must halve down to " +
                $"{MinSamplingSteps} (a power-of-two multiple of it).");
        Teacher.Validate();
        Judge.Validate();
        return this;
    }

    private static bool Positive(double rate) => rate > 0 && double.IsFinite(rate);

    private static int Positive(int value, string option) =>
        value > 0 ? value : throw new ArgumentException($"{option} must be a positive number of optimizer steps; got {value}.");

    /// <summary>Every preset, by name.</summary>
    public static IReadOnlyList<DemoPreset> All { get; } = [Tiny, Default, Gpu, Experiment, Paper];

    /// <summary>The preset called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No preset has that name.</exception>
    public static DemoPreset Named(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new ArgumentException($"Unknown demo preset '{name}'; use {string.Join(", ", All.Select(p => p.Name))}.", nameof(name));

    /// <summary>The teacher's recipe: MDLM's, with this preset's rate, warm-up, batch and a short log interval.</summary>
    public TrainingConfig TeacherTraining(ulong seed) => TrainingConfig.Mdlm with
    {
        LearningRate = LearningRate,
        WarmupSteps = WarmupSteps,
        Decay = Decay,
        BatchSize = BatchSize,
        MaxSteps = TeacherSteps,
        LogInterval = LogInterval,
        ValidationInterval = 0,
        ValidationBatches = ValidationBatches,
        Seed = seed,
    };

    /// <summary>The judge's recipe: the teacher's, for <see cref="JudgeSteps"/> steps.</summary>
    public TrainingConfig JudgeTraining(ulong seed) => TeacherTraining(seed) with { MaxSteps = JudgeSteps };

    /// <summary>The AR judge: the GPT whose parameters match the teacher's (<see cref="LatencyComparison.MatchedGpt"/>).</summary>
    public GptConfig Judge => LatencyComparison.MatchedGpt(Teacher, Model.Length);

    /// <summary>SDTT with this preset's rounds: the paper's settings with a shorter warm-up and this preset's rate and batch.</summary>
    public DistillationConfig Distillation(ulong seed) => DistillationConfig.Sdtt with
    {
        Training = DistillationConfig.Sdtt.Training with
        {
            LearningRate = DistillationLearningRate,
            WarmupSteps = Math.Min(DistillationConfig.Sdtt.Training.WarmupSteps, Math.Max(1, StepsPerRound / 5)),
            BatchSize = BatchSize,
            LogInterval = LogInterval,
            Seed = seed + 1,
        },
        InitialSamplingSteps = InitialSamplingSteps,
        MinSamplingSteps = MinSamplingSteps,
        StepsPerRound = StepsPerRound,
    };

    /// <summary>The sampling step counts evaluated for every model: N₀ and every student's count, ascending.</summary>
    public IReadOnlyList<int> EvaluatedSteps
    {
        get
        {
            var steps = new List<int>();
            for (int n = InitialSamplingSteps; n >= MinSamplingSteps; n /= 2) steps.Insert(0, n);
            return steps;
        }
    }
}

using System.CommandLine;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// The <see cref="SamplerOptions"/> options of <c>sample</c>: steps, batch, seed, caching, temperature, top-p, draw
/// method, ε, noise removal.
/// </summary>
internal sealed class SamplingOptions
{
    private static readonly SamplerOptions Defaults = new();

    private readonly Option<int?> _steps = new Option<int?>("--steps", "-n")
    {
        Description = $"Denoising steps N on the grid t: 1 → ε [default: a distilled student's own steps, else {Defaults.Steps}]",
    }.Positive();

    private readonly Option<int> _batch = new Option<int>("--batch", "-b")
    {
        Description = "Sequences sampled together",
        DefaultValueFactory = _ => Defaults.BatchSize,
    }.Positive();

    private readonly Option<long?> _seed = new Option<long?>("--seed")
    {
        Description = "Seed of every random choice, the same seed giving the same text on the CPU backend; -1 or none: a new " +
            "random seed, shown in the summary",
    }.RequireGiven(s => s >= -1, "≥ 0, or -1 for a random seed");

    private readonly Option<bool> _cached = new("--cached")
    {
        Description = "Reuse the model output while no token changed (MDLM's ddpm_cache): same text, fewer forward passes",
        DefaultValueFactory = _ => Defaults.Cached,
    };

    private readonly Option<bool> _noCache = new("--no-cache")
    {
        Description = "Run the model at every step (the same as --cached false)",
    };

    private readonly Option<float> _temperature = new Option<float>("--temperature")
    {
        Description = "Divides the logits before each draw; 1 samples the model's distribution, 0 takes the most likely token",
        DefaultValueFactory = _ => Defaults.Temperature,
    }.Require(t => t >= 0 && float.IsFinite(t), "≥ 0 (0: greedy)");

    private readonly Option<float> _topP = new Option<float>("--top-p")
    {
        Description = "Nucleus mass in (0, 1] for each draw; 1 turns nucleus sampling off",
        DefaultValueFactory = _ => Defaults.TopP,
    }.Require(p => p > 0 && p <= 1, "in (0, 1]");

    private readonly Option<string> _draw = new("--draw")
    {
        Description = "How a draw turns random numbers into tokens, the same distribution either way: inverse-cdf (one uniform " +
            "per position; fast) or race (MDLM's exponential race, one per vocabulary entry; reproduces its samples)",
        DefaultValueFactory = _ => "inverse-cdf",
    };

    private readonly Option<double> _epsilon = new Option<double>("--epsilon")
    {
        Description = "Last time ε of the grid, in (0, 1)",
        DefaultValueFactory = _ => Defaults.Epsilon,
    }.Require(e => e > 0 && e < 1, "in (0, 1)");

    private readonly Option<bool> _noNoiseRemoval = new("--no-noise-removal")
    {
        Description = "Leave positions still masked after the last step as [MASK] instead of filling them with the most likely token",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public SamplingOptions(Command command)
    {
        foreach (Option option in new Option[] { _steps, _batch, _seed, _cached, _noCache, _temperature, _topP, _draw, _epsilon,
            _noNoiseRemoval })
            command.Options.Add(option);
        _draw.AcceptOnlyFromAmong("inverse-cdf", "race");
        command.Validators.Add(result =>
        {
            if (result.GetResult(_cached) is { Implicit: false } && result.GetValue(_noCache))
                result.AddError("Give --cached or --no-cache, not both.");
        });
    }

    /// <summary>The options of the diffusion sampler alone given on the command line (a GPT decodes left to right).</summary>
    public IReadOnlyList<string> DiffusionOnlyGiven(ParseResult parse) =>
        new Option[] { _steps, _cached, _noCache, _epsilon, _noNoiseRemoval }
            .Where(option => parse.GetResult(option) is { Implicit: false }).Select(option => option.Name).ToArray();

    /// <summary>The token draws the command line asks for, for a GPT.</summary>
    public GptSamplingOptions ResolveGpt(ParseResult parse)
    {
        SamplerOptions shared = Resolve(parse, modelSteps: null);
        return new GptSamplingOptions { Temperature = shared.Temperature, TopP = shared.TopP, Draw = shared.Draw, Seed = shared.Seed };
    }

    /// <summary>--batch as given (or its default).</summary>
    public int BatchSize(ParseResult parse) => parse.GetValue(_batch);

    /// <summary>--steps, to tell whether it was given.</summary>
    public Option<int?> Steps => _steps;

    /// <summary>
    /// The sampler settings the command line asks for; without --steps, <paramref name="modelSteps"/> (the steps a distilled
    /// student was made for) or the sampler's default.
    /// </summary>
    public SamplerOptions Resolve(ParseResult parse, int? modelSteps) => new SamplerOptions
    {
        Steps = parse.GetValue(_steps) ?? modelSteps ?? Defaults.Steps,
        BatchSize = parse.GetValue(_batch),
        Cached = parse.GetValue(_cached) && !parse.GetValue(_noCache),
        Seed = parse.GetValue(_seed) is long seed and >= 0 ? (ulong)seed : (ulong)Random.Shared.NextInt64(0, long.MaxValue),
        Temperature = parse.GetValue(_temperature),
        TopP = parse.GetValue(_topP),
        Draw = parse.GetValue(_draw) == "race" ? CategoricalDraw.ExponentialRace : CategoricalDraw.InverseCdf,
        Epsilon = parse.GetValue(_epsilon),
        NoiseRemoval = !parse.GetValue(_noNoiseRemoval),
    }.Validate();
}

using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// The model shape of a new training run: a <see cref="DitConfig"/> preset (<c>--preset</c>) with field overrides
/// (<c>--layers</c>, <c>--hidden</c>, <c>--heads</c>, <c>--cond-dim</c>, <c>--length</c>, <c>--dropout</c>), the
/// diffusion model's options (<c>--qk-norm</c>, <c>--time-conditioning</c>), and the tokenizer of the model and its data
/// (<c>--tokenizer</c>), which sets the vocabulary.
/// </summary>
internal sealed class ModelOptions
{
    /// <summary>The presets by name.</summary>
    public static IReadOnlyDictionary<string, DitConfig> Presets { get; } =
        new Dictionary<string, DitConfig>(StringComparer.OrdinalIgnoreCase)
        {
            ["tiny"] = DitConfig.Tiny,
            ["small"] = DitConfig.Small,
            ["medium"] = DitConfig.Medium,
            ["large"] = DitConfig.Large,
        };

    /// <summary>The GPT presets of <c>--model ar</c>, under the same names: tiny, and the GPT-2 sizes 124M, 355M, 774M.</summary>
    public static IReadOnlyDictionary<string, GptConfig> GptPresets { get; } =
        new Dictionary<string, GptConfig>(StringComparer.OrdinalIgnoreCase)
        {
            ["tiny"] = GptConfig.Tiny,
            ["small"] = GptConfig.Gpt2,
            ["medium"] = GptConfig.Gpt2Medium,
            ["large"] = GptConfig.Gpt2Large,
        };

    private readonly Option<string> _preset = new("--preset")
    {
        Description = "Model size: tiny (4 layers, 256 wide, 4 heads, L 128), small (the paper's 169M: 12 × 768, 12 heads, L 1024), " +
            "medium (24 × 1024, 16 heads) or large (24 × 1536, 16 heads); " +
            "with --model ar: tiny, or GPT-2 small (124M), medium (355M), large (774M)",
        DefaultValueFactory = _ => "tiny",
    };

    private readonly Option<int?> _layers = new Option<int?>("--layers")
    {
        Description = "Transformer blocks (overrides the preset)",
    }.Positive();

    private readonly Option<int?> _hidden = new Option<int?>("--hidden")
    {
        Description = "Residual width D (overrides the preset)",
    }.Positive();

    private readonly Option<int?> _heads = new Option<int?>("--heads")
    {
        Description = "Attention heads; D/heads must be even (overrides the preset)",
    }.Positive();

    private readonly Option<int?> _condDim = new Option<int?>("--cond-dim")
    {
        Description = "Width of the time conditioning (overrides the preset's 128)",
    }.Positive();

    private readonly Option<int?> _length = new Option<int?>("--length")
    {
        Description = "Longest sequence L the model takes (default: the corpus's sequence length)",
    }.Positive();

    private readonly Option<float?> _dropout = new Option<float?>("--dropout")
    {
        Description = string.Create(CultureInfo.InvariantCulture,
            $"Dropout probability in training, in [0, 1) (default {DitConfig.Tiny.Dropout})"),
    }.RequireGiven(p => p >= 0 && p < 1, "in [0, 1)");

    private readonly Option<bool> _qkNorm = new("--qk-norm")
    {
        Description = "LayerNorm q and k of every attention head (not in MDLM; keeps masked queries from locking onto one key)",
    };

    private readonly Option<bool> _timeConditioning = new("--time-conditioning")
    {
        Description = "Condition the diffusion model on the noise level (MDLM's released models are not)",
    };

    private readonly Option<string?> _tokenizer = TokenizerOption.Create(
        $"Tokenizer of the model and its data: {TokenizerOption.Choices}; the vocabulary follows it " +
        "[default: the --data shards' tokenizer, which must match when given; gpt2 with --embedded]");

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public ModelOptions(Command command)
    {
        _preset.AcceptOnlyFromAmong([.. Presets.Keys]);
        foreach (Option option in All) command.Options.Add(option);
    }

    private IEnumerable<Option> All =>
        [_preset, _layers, _hidden, _heads, _condDim, _length, _dropout, _qkNorm, _timeConditioning, _tokenizer];

    /// <summary>The tokenizer given with <c>--tokenizer</c>, or null.</summary>
    public Tokenizer? Tokenizer(ParseResult parse) => parse.GetTokenizer(_tokenizer);

    /// <summary>The sequence length given with <c>--length</c>, else the preset's.</summary>
    public int Length(ParseResult parse) => parse.GetValue(_length) ?? Presets[parse.GetValue(_preset)!].Length;

    /// <summary>The options given on the command line (a resumed run takes its model from the checkpoint instead).</summary>
    public IReadOnlyList<string> Given(ParseResult parse) =>
        All.Where(option => parse.GetResult(option) is { Implicit: false }).Select(option => option.Name).ToArray();

    /// <summary>
    /// The GPT preset with every given override (the diffusion model's options do not apply); the length is
    /// <c>--length</c>, else <paramref name="dataLength"/>; the vocabulary is <paramref name="tokenizer"/>'s ids.
    /// </summary>
    /// <exception cref="ArgumentException">--cond-dim was given, or the resulting shape is invalid.</exception>
    public GptConfig ResolveGpt(ParseResult parse, int dataLength, Tokenizer tokenizer)
    {
        foreach (var option in new Option[] { _condDim, _timeConditioning, _qkNorm })
            if (parse.GetResult(option) is { Implicit: false })
                throw new ArgumentException($"{option.Name} is an option of the diffusion model; the autoregressive model has none.");
        GptConfig baseline = GptPresets[parse.GetValue(_preset)!];
        return (baseline with
        {
            Layers = parse.GetValue(_layers) ?? baseline.Layers,
            Hidden = parse.GetValue(_hidden) ?? baseline.Hidden,
            Heads = parse.GetValue(_heads) ?? baseline.Heads,
            Length = parse.GetValue(_length) ?? dataLength,
            Dropout = parse.GetValue(_dropout) ?? baseline.Dropout,
            Tokenizer = tokenizer.Name,
            Vocab = tokenizer.VocabularySize,
        }).Validate();
    }

    /// <summary>
    /// The preset with every given override; the length is <c>--length</c>, else <paramref name="dataLength"/>; the vocabulary
    /// is <paramref name="tokenizer"/>'s ids and MASK.
    /// </summary>
    /// <exception cref="ArgumentException">The resulting shape is invalid (e.g. D not divisible by the heads).</exception>
    public DitConfig Resolve(ParseResult parse, int dataLength, Tokenizer tokenizer)
    {
        DitConfig baseline = Presets[parse.GetValue(_preset)!];
        return (baseline with
        {
            Layers = parse.GetValue(_layers) ?? baseline.Layers,
            Hidden = parse.GetValue(_hidden) ?? baseline.Hidden,
            Heads = parse.GetValue(_heads) ?? baseline.Heads,
            CondDim = parse.GetValue(_condDim) ?? baseline.CondDim,
            Length = parse.GetValue(_length) ?? dataLength,
            Dropout = parse.GetValue(_dropout) ?? baseline.Dropout,
            QkNorm = parse.GetValue(_qkNorm) || baseline.QkNorm,
            TimeConditioning = parse.GetValue(_timeConditioning) || baseline.TimeConditioning,
            Tokenizer = tokenizer.Name,
            Vocab = tokenizer.ModelVocabularySize,
        }).Validate();
    }
}

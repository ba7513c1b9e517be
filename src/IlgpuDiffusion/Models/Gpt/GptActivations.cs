using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Everything a <see cref="Gpt"/> pass writes, carved from one arena sized once per (config, batch, tokens, head
/// rows). A training arena keeps every block's activations and the backward scratch; an inference arena holds one
/// shared working set (about one block's worth plus the logits) and also serves KV-cached decoding, whose passes
/// use its first batch·newTokens rows. Not thread-safe; one pass at a time.
/// </summary>
public sealed class GptActivations : IDisposable
{
    private readonly Arena<float> _arena;

    internal GptActivations(GptConfig config, Device device, int batch, int tokens, int headCapacity, bool training)
    {
        if (batch <= 0 || tokens <= 0 || tokens > config.Length)
            throw new ArgumentOutOfRangeException(nameof(tokens),
                $"Need batch ≥ 1 and 1 ≤ tokens ≤ {config.Length} (the config's length); got batch {batch}, tokens {tokens}.");
        long n = (long)batch * tokens;
        if (headCapacity < 0 || headCapacity > n)
            throw new ArgumentOutOfRangeException(nameof(headCapacity), $"Head rows must be in [0, {n}]; got {headCapacity}.");
        if (n * config.MlpHidden > int.MaxValue || (long)headCapacity * config.PaddedVocab > int.MaxValue)
            throw new ArgumentException($"Batch {batch} × tokens {tokens} makes activations larger than {int.MaxValue} floats; " +
                "use smaller batches or fewer head rows.");
        Config = config;
        Batch = batch;
        Tokens = tokens;
        HeadCapacity = headCapacity;
        Training = training;
        var copies = BlockInputCopies.Lengths.Of(device, n, config.Hidden, config.MlpHidden);
        _arena = Plan(config, batch, tokens, headCapacity, training, copies).Allocate(device);
        var a = _arena;
        Layers = Enumerable.Range(0, config.Layers).Select(l => training
            ? new GptLayerActivations(a, $"h.{l}.", $"residual.{l}", $"h.{l}.middle", $"residual.{l + 1}", copies)
            : new GptLayerActivations(a, "work.", "residual.0", "residual.0", "residual.0", copies)).ToArray();
        Embedded = Layers[0].Input;
        MlpActivation = a["mlp_activation"];
        FinalNorm = a["final_norm"];
        FinalMean = a["final_mean"];
        FinalRstd = a["final_rstd"];
        Logits = a["logits"];
        if (training)
        {
            DResidual = a["d_residual"];
            DNorm = a["d_norm"];
            DWork = a["d_work"];
            DQkv = a["d_qkv"];
            DMlp = a["d_mlp"];
            DUnusedScale = a["d_unused_scale"];
        }
        Positions = device.AllocateTensor<int>(new Shape(checked((int)n)));
        PositionsHost = new int[n];
    }

    /// <summary>The model shape.</summary>
    public GptConfig Config { get; }

    /// <summary>Sequences per pass.</summary>
    public int Batch { get; }

    /// <summary>Tokens per sequence (the most new tokens per pass when decoding).</summary>
    public int Tokens { get; }

    /// <summary>Rows N = Batch·Tokens.</summary>
    public int Rows => Batch * Tokens;

    /// <summary>Most rows the output head computes in one call.</summary>
    public int HeadCapacity { get; }

    /// <summary>Whether every block's activations are kept for <see cref="Gpt.Backward"/>.</summary>
    public bool Training { get; }

    /// <summary>wte[ids] + wpe[positions] after dropout: the first block's input [N, D].</summary>
    internal Tensor<float> Embedded { get; }

    /// <summary>Per-block activations (all the same object in an inference arena).</summary>
    internal IReadOnlyList<GptLayerActivations> Layers { get; }

    /// <summary>GELU output [N, 4D], scratch (recomputed in backward).</summary>
    internal Tensor<float> MlpActivation { get; }

    /// <summary>LN(x_L)·ln_f.weight + ln_f.bias [N, D]: the head input.</summary>
    internal Tensor<float> FinalNorm { get; }

    /// <summary>Final LayerNorm mean [N].</summary>
    internal Tensor<float> FinalMean { get; }

    /// <summary>Final LayerNorm reciprocal standard deviation [N].</summary>
    internal Tensor<float> FinalRstd { get; }

    /// <summary>Logits of the head rows [HeadCapacity, PaddedVocab].</summary>
    internal Tensor<float> Logits { get; }

    /// <summary>The position of every row [N] (learned positions), uploaded from <see cref="PositionsHost"/> when it changes.</summary>
    internal Tensor<int> Positions { get; }

    /// <summary>Host staging of <see cref="Positions"/> [N].</summary>
    internal int[] PositionsHost { get; }

    /// <summary>The (batch, tokens, first position) whose positions <see cref="Positions"/> holds.</summary>
    internal (int Batch, int Tokens, int Position) PositionsKey { get; set; } = (-1, -1, -1);

    /// <summary>∂L/∂residual stream [N, D] (training arenas only; the other gradients likewise).</summary>
    internal Tensor<float> DResidual { get; }

    /// <summary>∂L/∂LayerNorm output [N, D].</summary>
    internal Tensor<float> DNorm { get; }

    /// <summary>∂L/∂(a Linear input or branch) [N, D].</summary>
    internal Tensor<float> DWork { get; }

    /// <summary>∂L/∂qkv [N, 3D].</summary>
    internal Tensor<float> DQkv { get; }

    /// <summary>∂L/∂(pre-GELU) [N, 4D] (the GELU's input).</summary>
    internal Tensor<float> DMlp { get; }

    /// <summary>Sink of the scale gradient the bias-adding modulation also computes [D] (its scale is constant 0).</summary>
    internal Tensor<float> DUnusedScale { get; }

    /// <summary>What the last forward pass saw, for its backward pass (null after an eval or decoding pass).</summary>
    internal ForwardRecord? LastForward { get; set; }

    /// <summary>Whether <see cref="FinalNorm"/> holds the last full-sequence trunk pass (the head may run on it).</summary>
    internal bool TrunkReady { get; set; }

    /// <inheritdoc/>
    public void Dispose()
    {
        _arena.Dispose();
        Positions.Buffer.Dispose();
    }

    private static ArenaLayout<float> Plan(GptConfig config, int batch, int tokens, int headCapacity, bool training,
        BlockInputCopies.Lengths copies)
    {
        int n = batch * tokens, d = config.Hidden;
        var layout = new ArenaLayout<float>();
        layout.Add("residual.0", new Shape(n, d));
        if (training)
            for (int l = 0; l < config.Layers; l++)
            {
                layout.Add($"h.{l}.middle", new Shape(n, d));
                GptLayerActivations.Plan(layout, $"h.{l}.", config, batch, tokens);
                BlockInputCopies.Plan(layout, $"h.{l}.", copies);
                layout.Add($"residual.{l + 1}", new Shape(n, d));
            }
        else
        {
            GptLayerActivations.Plan(layout, "work.", config, batch, tokens);
            BlockInputCopies.Plan(layout, "work.", copies);
        }
        layout.Add("mlp_activation", new Shape(n, config.MlpHidden));
        layout.Add("final_norm", new Shape(n, d));
        layout.Add("final_mean", new Shape(n));
        layout.Add("final_rstd", new Shape(n));
        layout.Add("logits", new Shape(headCapacity, config.PaddedVocab));
        if (training)
        {
            layout.Add("d_residual", new Shape(n, d));
            layout.Add("d_norm", new Shape(n, d));
            layout.Add("d_work", new Shape(n, d));
            layout.Add("d_qkv", new Shape(n, 3 * d));
            layout.Add("d_mlp", new Shape(n, config.MlpHidden));
            layout.Add("d_unused_scale", new Shape(d));
        }
        return layout;
    }

    /// <summary>The inputs of a forward pass that its backward pass needs.</summary>
    internal readonly record struct ForwardRecord(Tensor<int> Ids, GptDropout Dropout);
}

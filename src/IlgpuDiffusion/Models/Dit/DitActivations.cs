using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Everything a <see cref="Dit"/> forward (and, for training, backward) pass writes, carved from one
/// arena sized once per (config, batch, tokens, head rows). A training arena keeps every block's
/// activations and the backward scratch; an inference arena holds one shared working set, so an
/// eval forward needs about one block's worth of memory plus the logits. Not thread-safe; one pass at a time.
/// </summary>
public sealed class DitActivations : IDisposable
{
    private readonly Arena<float> _arena;

    internal DitActivations(DitConfig config, Device device, int batch, int tokens, int headCapacity, bool training)
    {
        if (batch <= 0 || tokens <= 0 || tokens > config.Length)
            throw new ArgumentOutOfRangeException(nameof(tokens),
                $"Need batch ≥ 1 and 1 ≤ tokens ≤ {config.Length} (the config's length); got batch {batch}, tokens {tokens}.");
        long n = (long)batch * tokens;
        if (headCapacity < 0 || headCapacity > n)
            throw new ArgumentOutOfRangeException(nameof(headCapacity), $"Head rows must be in [0, {n}]; got {headCapacity}.");
        if (n * Math.Max(Math.Max(config.MlpHidden, 3 * config.Hidden), 1) > int.MaxValue
            || (long)headCapacity * config.PaddedVocab > int.MaxValue)
            throw new ArgumentException($"Batch {batch} × tokens {tokens} makes activations larger than {int.MaxValue} floats; " +
                "use smaller batches.");
        Config = config;
        Batch = batch;
        Tokens = tokens;
        HeadCapacity = headCapacity;
        Training = training;
        ConditionRows = config.TimeConditioning ? batch : 1;
        var copies = BlockInputCopies.Lengths.Of(device, n, config.Hidden, config.MlpHidden);
        _arena = Plan(config, batch, tokens, headCapacity, training, ConditionRows, copies).Allocate(device);
        var a = _arena;

        TimestepEmbedding = a["timestep_embedding"];
        SigmaHidden = a["sigma_hidden"];
        SigmaHiddenActivated = a["sigma_hidden_activated"];
        ConditionPre = a["condition_pre"];
        Condition = a["condition"];
        Layers = Enumerable.Range(0, config.Layers).Select(l => training
            ? new DitLayerActivations(a, $"blocks.{l}.", $"residual.{l}", $"blocks.{l}.middle", $"residual.{l + 1}", ConditionRows,
                config.QkNorm, copies)
            : new DitLayerActivations(a, "work.", "residual.0", "residual.0", "residual.0", ConditionRows, config.QkNorm, copies))
            .ToArray();
        Embedded = Layers[0].Input;
        MlpActivation = a["mlp_activation"];
        FinalModulation = a["final_modulation"];
        FinalShift = FinalModulation.Slice(0, ConditionRows);
        FinalScale = FinalModulation.Slice(ConditionRows, ConditionRows);
        FinalNorm = a["final_norm"];
        FinalMean = a["final_mean"];
        FinalRstd = a["final_rstd"];
        FinalModulated = a["final_modulated"];
        HeadInput = a["head_input"];
        Logits = a["logits"];
        if (training) Gradients = new DitActivationGradients(a, ConditionRows);
        int f = DitConfig.FrequencyEmbeddingSize;
        TimestepHost = new float[ConditionRows * f];
        for (int r = 0; r < ConditionRows; r++)
            TimestepEmbeddings.Write(TimestepHost.AsSpan(r * f, f), 0f); // σ = 0: the constant embedding
        TimestepEmbedding.CopyFrom(TimestepHost);
    }

    /// <summary>The model shape.</summary>
    public DitConfig Config { get; }

    /// <summary>Sequences per pass.</summary>
    public int Batch { get; }

    /// <summary>Tokens per sequence.</summary>
    public int Tokens { get; }

    /// <summary>Rows N = Batch·Tokens.</summary>
    public int Rows => Batch * Tokens;

    /// <summary>Most rows the output head computes in one pass.</summary>
    public int HeadCapacity { get; }

    /// <summary>Whether every block's activations are kept for <see cref="Dit.Backward"/>.</summary>
    public bool Training { get; }

    /// <summary>Bc: 1 without time conditioning (one conditioning vector serves the batch), else Batch.</summary>
    public int ConditionRows { get; }

    /// <summary>Sinusoidal embedding of sigma [Bc, 256] (constant [1]×128 ++ [0]×128 without time conditioning).</summary>
    internal Tensor<float> TimestepEmbedding { get; }

    /// <summary>sigma_map.mlp.0 output [Bc, C].</summary>
    internal Tensor<float> SigmaHidden { get; }

    /// <summary>SiLU(SigmaHidden) [Bc, C].</summary>
    internal Tensor<float> SigmaHiddenActivated { get; }

    /// <summary>sigma_map.mlp.2 output [Bc, C].</summary>
    internal Tensor<float> ConditionPre { get; }

    /// <summary>c = SiLU(ConditionPre) [Bc, C]: input of every adaLN linear.</summary>
    internal Tensor<float> Condition { get; }

    /// <summary>The embedded ids E[ids] [N, D] (the first block's input).</summary>
    internal Tensor<float> Embedded { get; }

    /// <summary>Per-block activations (all the same object set in an inference arena).</summary>
    internal IReadOnlyList<DitLayerActivations> Layers { get; }

    /// <summary>GELU output [N, 4D], scratch (recomputed in backward).</summary>
    internal Tensor<float> MlpActivation { get; }

    /// <summary>Final adaLN output [2, Bc, D]: (shift, scale).</summary>
    internal Tensor<float> FinalModulation { get; }

    /// <summary>Final shift [Bc, D].</summary>
    internal Tensor<float> FinalShift { get; }

    /// <summary>Final scale [Bc, D].</summary>
    internal Tensor<float> FinalScale { get; }

    /// <summary>LN(x_L)·norm_final [N, D].</summary>
    internal Tensor<float> FinalNorm { get; }

    /// <summary>Final LayerNorm mean [N].</summary>
    internal Tensor<float> FinalMean { get; }

    /// <summary>Final LayerNorm reciprocal standard deviation [N].</summary>
    internal Tensor<float> FinalRstd { get; }

    /// <summary>FinalNorm·(1 + scale) + shift [N, D].</summary>
    internal Tensor<float> FinalModulated { get; }

    /// <summary>The rows of FinalModulated the head computes [HeadCapacity, D] (used when rows are selected).</summary>
    internal Tensor<float> HeadInput { get; }

    /// <summary>Logits of the head rows [HeadCapacity, V].</summary>
    internal Tensor<float> Logits { get; }

    /// <summary>Backward scratch; null in an inference arena.</summary>
    internal DitActivationGradients? Gradients { get; }

    /// <summary>Host staging of the timestep embedding [Bc·256], refilled per pass with time conditioning.</summary>
    internal float[] TimestepHost { get; }

    /// <summary>What the last forward pass saw, for its backward pass.</summary>
    internal ForwardRecord? LastForward { get; set; }

    /// <summary>Whether the final modulated rows hold the last trunk pass (the head may run on them).</summary>
    internal bool TrunkReady { get; set; }

    /// <summary>
    /// What the last training trunk pass saw and the rows of the last head chunk, while a backward in head chunks is open.
    /// </summary>
    internal ForwardRecord? ChunkedBackward { get; set; }

    /// <summary>Whether the last head chunk of an open chunked backward still awaits its head backward.</summary>
    internal bool HeadPending { get; set; }

    /// <inheritdoc/>
    public void Dispose() => _arena.Dispose();

    private static ArenaLayout<float> Plan(DitConfig config, int batch, int tokens, int headCapacity, bool training, int conditionRows,
        BlockInputCopies.Lengths copies)
    {
        int n = batch * tokens, d = config.Hidden, c = config.CondDim;
        var layout = new ArenaLayout<float>();
        layout.Add("timestep_embedding", new Shape(conditionRows, DitConfig.FrequencyEmbeddingSize));
        foreach (string name in new[] { "sigma_hidden", "sigma_hidden_activated", "condition_pre", "condition" })
            layout.Add(name, new Shape(conditionRows, c));
        layout.Add("residual.0", new Shape(n, d));
        if (training)
            for (int l = 0; l < config.Layers; l++)
            {
                layout.Add($"blocks.{l}.middle", new Shape(n, d));
                DitLayerActivations.Plan(layout, $"blocks.{l}.", config, batch, tokens, conditionRows);
                BlockInputCopies.Plan(layout, $"blocks.{l}.", copies);
                layout.Add($"residual.{l + 1}", new Shape(n, d));
            }
        else
        {
            DitLayerActivations.Plan(layout, "work.", config, batch, tokens, conditionRows);
            BlockInputCopies.Plan(layout, "work.", copies);
        }
        layout.Add("mlp_activation", new Shape(n, config.MlpHidden));
        layout.Add("final_modulation", new Shape(2 * conditionRows, d));
        layout.Add("final_norm", new Shape(n, d));
        layout.Add("final_mean", new Shape(n));
        layout.Add("final_rstd", new Shape(n));
        layout.Add("final_modulated", new Shape(n, d));
        layout.Add("head_input", new Shape(headCapacity, d));
        layout.Add("logits", new Shape(headCapacity, config.PaddedVocab));
        if (training) DitActivationGradients.Plan(layout, config, n, headCapacity, conditionRows);
        return layout;
    }

    /// <summary>The inputs of a forward pass that its backward pass needs.</summary>
    internal readonly record struct ForwardRecord(Tensor<int> Ids, Tensor<int>? HeadRows, int HeadCount, DitDropout Dropout);
}

using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// The GPT-style causal transformer (GPT-2 layout): x = wte[ids] (+ wpe[positions]) → dropout → blocks (x += dropout(
/// c_proj(causal attention(c_attn(LN₁(x))))); x += dropout(c_proj(GELU-tanh(c_fc(LN₂(x)))))) → LN_f → head (wteᵀ when
/// tied). Every LayerNorm has a weight and a bias; every Linear has a bias except the head. Built only from
/// <see cref="IKernels"/> calls, so the same code runs on every backend; a LayerNorm bias is the shift of a modulation
/// with zero scale, a residual add a gated residual with gate 1. Parameters (and gradients) live in arenas named as the
/// Hugging Face GPT-2 state dict; activations in a <see cref="GptActivations"/>; the KV cache of decoding in a
/// <see cref="GptKvCache"/>. Forward, backward and decoding steps allocate nothing. No autograd: <see cref="Backward"/>
/// is the explicit reverse of <see cref="Forward"/>.
/// </summary>
public sealed partial class Gpt : IDisposable
{
    private readonly IKernels _k;
    private readonly Tensor<float> _cos, _sin; // rotary positions: [Length, D/H/2] each; [1] unused placeholders otherwise
    private readonly Tensor<float> _zeros, _ones; // [D] each: the scale of the bias modulation, the residual gate

    /// <summary>Allocates zero parameters (call <see cref="Initialize"/> or load weights) and, when asked, gradients.</summary>
    public Gpt(GptConfig config, Device device, bool withGradients = true)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(device);
        Config = config.Validate();
        Device = device;
        _k = device.Kernels;
        Parameters = GptParameters.Allocate(config, device);
        Gradients = withGradients ? GptParameters.Allocate(config, device) : null;
        bool rotary = config.Positions == GptPositions.Rotary;
        var (cos, sin) = rotary ? RotaryTables.Create(config.Length, config.HeadDim) : ([0f], [0f]);
        _cos = device.Upload<float>(cos, new Shape(cos.Length));
        _sin = device.Upload<float>(sin, new Shape(sin.Length));
        _zeros = device.AllocateTensor<float>(new Shape(config.Hidden));
        _ones = device.Upload<float>(Enumerable.Repeat(1f, config.Hidden).ToArray(), new Shape(config.Hidden));
    }

    /// <summary>The model shape.</summary>
    public GptConfig Config { get; }

    /// <summary>Where the tensors live and the kernels run.</summary>
    public Device Device { get; }

    /// <summary>The weights.</summary>
    public GptParameters Parameters { get; }

    /// <summary>Parameter gradients (same layout), accumulated by <see cref="Backward"/>; null for a no-grad model.</summary>
    public GptParameters? Gradients { get; }

    /// <summary>Initializes the weights as GPT-2 does (<see cref="GptInitializer"/>) from <paramref name="seed"/>.</summary>
    public void Initialize(ulong seed) => GptInitializer.Initialize(Parameters, seed);

    /// <summary>Copies the weights of <paramref name="other"/> (same config and device).</summary>
    public void CopyParametersFrom(Gpt other) => Parameters.CopyFrom(other.Parameters);

    /// <summary>Sets every gradient to zero (before a step's first micro-batch).</summary>
    public void ZeroGradients() => RequireGradients().Fill(0f);

    /// <summary>
    /// Allocates activations for batches of <paramref name="batch"/> sequences of <paramref name="tokens"/> ids.
    /// A training arena keeps what <see cref="Backward"/> needs; an inference arena serves eval passes only.
    /// </summary>
    /// <param name="headCapacity">Most head rows per call; defaults to every row (batch·tokens).</param>
    public GptActivations CreateActivations(int batch, int tokens, bool training, int? headCapacity = null) =>
        new(Config, Device, batch, tokens, headCapacity ?? TokenRows.Of(batch, tokens), training);

    /// <summary>
    /// Runs the model on full sequences (causal attention) and returns the logits of every row: row b·T + t
    /// predicts token t + 1 of sequence b.
    /// </summary>
    /// <param name="activations">From <see cref="CreateActivations"/> with a head capacity of every row.</param>
    /// <param name="ids">[batch, tokens] token ids in [0, V); must stay unchanged until <see cref="Backward"/>.</param>
    /// <param name="dropout">Training dropout, or <see cref="GptDropout.Off"/>.</param>
    /// <returns>
    /// [batch·tokens, PaddedVocab] logits (padding from Vocab on), a view into <paramref name="activations"/> valid until the
    /// next pass.
    /// </returns>
    public Tensor<float> Forward(GptActivations activations, Tensor<int> ids, GptDropout dropout)
    {
        CheckActivations(activations);
        if (activations.HeadCapacity < activations.Rows)
            throw new ArgumentException($"A full forward computes the head on all {activations.Rows} rows; " +
                $"these activations hold {activations.HeadCapacity}. Use ForwardTrunk and ForwardHead for row chunks.",
                nameof(activations));
        RunTrunk(activations, ids, dropout);
        var logits = ForwardHead(activations, 0, activations.Rows);
        activations.LastForward = new GptActivations.ForwardRecord(ids, dropout);
        return logits;
    }

    /// <summary>
    /// Eval pass (no dropout) through every block and the final LayerNorm, without the head; then
    /// <see cref="ForwardHead"/> gives the logits of any rows, in chunks as large as the head capacity.
    /// </summary>
    /// <param name="ids">[batch, tokens] token ids in [0, V).</param>
    public void ForwardTrunk(GptActivations activations, Tensor<int> ids) => RunTrunk(activations, ids, GptDropout.Off);

    /// <summary>The head on rows [<paramref name="firstRow"/>, firstRow + count) of the last trunk pass.</summary>
    /// <returns>
    /// [count, PaddedVocab] logits, a view into <paramref name="activations"/> valid until the next call; the columns from
    /// Vocab on are the head's padding (<see cref="GptConfig.PaddedVocab"/>).
    /// </returns>
    /// <exception cref="InvalidOperationException">No full-sequence trunk pass ran on these activations.</exception>
    public Tensor<float> ForwardHead(GptActivations activations, int firstRow, int count)
    {
        CheckActivations(activations);
        if (!activations.TrunkReady)
            throw new InvalidOperationException("ForwardHead needs a ForwardTrunk (or Forward) pass on these activations first.");
        if (count < 0 || count > activations.HeadCapacity || firstRow < 0 || firstRow + count > activations.Rows)
            throw new ArgumentOutOfRangeException(nameof(count), $"Head rows [{firstRow}, {firstRow + count}) must lie in " +
                $"[0, {activations.Rows}) and number at most {activations.HeadCapacity}.");
        activations.LastForward = null;
        var logits = activations.Logits.Slice(0, count);
        _k.LinearForward(activations.FinalNorm.Slice(firstRow, count), Parameters.PaddedHeadWeight, null, logits, count, Config.Hidden,
            Config.PaddedVocab);
        return logits;
    }

    private void RunTrunk(GptActivations a, Tensor<int> ids, GptDropout dropout)
    {
        if (dropout.Enabled && !a.Training)
            throw new InvalidOperationException("Dropout is for training; an inference arena runs eval passes only.");
        dropout.Validate(Config.Layers);
        Check.Count(ids, a.Rows, nameof(ids));
        a.LastForward = null;
        a.TrunkReady = false;
        Embed(a, ids, a.Batch, a.Tokens, 0, dropout);
        for (int l = 0; l < Config.Layers; l++)
            ForwardBlock(a, a.Layers[l], Parameters.Blocks[l], a.Batch, a.Tokens, null, l, dropout);
        FinalNorm(a.Layers[^1].Output, a.FinalNorm, a.FinalMean, a.FinalRstd, a.Rows);
        a.TrunkReady = true;
    }

    /// <summary>x = dropout(wte[ids] + wpe[position + t]) into the first block's input.</summary>
    private void Embed(GptActivations a, Tensor<int> ids, int batch, int tokens, int position, GptDropout dropout)
    {
        int n = batch * tokens, d = Config.Hidden;
        var x = a.Embedded;
        _k.EmbeddingForward(ids, Parameters.TokenEmbedding, x, n, Config.Vocab, d);
        if (Parameters.PositionEmbedding is { } wpe)
        {
            UploadPositions(a, batch, tokens, position);
            var positions = a.Layers[0].Norm1; // free until the first block runs
            _k.EmbeddingForward(a.Positions, wpe, positions, n, Config.Length, d);
            _k.GatedResidualForward(x, positions, _ones, x, 1, n, d);
        }
        if (UsesDropout(dropout))
            _k.DropoutForward(x, x, n * d, Config.Dropout, dropout.Seed, dropout.EmbeddingStream);
    }

    /// <summary>Row b·tokens + t gets position <paramref name="position"/> + t (uploaded only when it changes).</summary>
    private static void UploadPositions(GptActivations a, int batch, int tokens, int position)
    {
        var key = (batch, tokens, position);
        if (a.PositionsKey == key) return;
        var host = a.PositionsHost.AsSpan(0, batch * tokens);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tokens; t++) host[b * tokens + t] = position + t;
        a.Positions.Slice(0, host.Length).CopyFrom(host);
        a.PositionsKey = key;
    }

    /// <summary>
    /// One block on <paramref name="batch"/>·<paramref name="tokens"/> rows: full causal attention, or with
    /// <paramref name="cache"/> the KV-cached attention of new tokens at the cache's position.
    /// </summary>
    private void ForwardBlock(GptActivations a, GptLayerActivations s, GptBlockTensors w, int batch, int tokens,
        GptKvCache? cache, int layer, GptDropout dropout)
    {
        int n = batch * tokens, d = Config.Hidden, h = Config.Heads, hd = Config.HeadDim, f = Config.MlpHidden;
        int position = cache?.Position ?? 0;

        // attention branch: x_mid = x + dropout(c_proj(attn(c_attn(LN₁(x)))))
        LayerNormWithBias(s.Input, w.Norm1Weight, w.Norm1Bias, s.Norm1, s.Mean1, s.Rstd1, n);
        _k.LinearForward(s.Norm1, w.QkvWeight, w.QkvBias, s.Qkv, n, d, 3 * d, s.InputCopies?.Qkv);
        if (Config.Positions == GptPositions.Rotary)
            _k.RotaryForward(s.Qkv, _cos, _sin, batch, tokens, h, hd, position);
        if (cache is null)
            _k.AttentionForward(s.Qkv, s.Attention, s.LogSumExp, batch, tokens, h, hd, causal: true);
        else
            _k.AttentionWithCacheForward(s.Qkv, cache.Keys[layer], cache.Values[layer], s.Attention, batch, tokens, h, hd, position,
                cache.Capacity);
        _k.LinearForward(s.Attention, w.ProjectionWeight, w.ProjectionBias, s.AttentionBranch, n, d, d, s.InputCopies?.AttentionOutput);
        _k.GatedResidualForward(s.Input, s.AttentionBranch, _ones, s.Middle, 1, n, d, BranchDropout(dropout, layer, 0));

        // MLP branch: x_out = x_mid + dropout(c_proj(GELU(c_fc(LN₂(x_mid)))))
        LayerNormWithBias(s.Middle, w.Norm2Weight, w.Norm2Bias, s.Norm2, s.Mean2, s.Rstd2, n);
        _k.LinearGeluForward(s.Norm2, w.FcWeight, w.FcBias, s.MlpHidden, a.MlpActivation, n, d, f, s.InputCopies?.MlpUp,
            s.InputCopies?.MlpDown); // on a device that keeps copies, the activation's copy only
        _k.LinearForward(a.MlpActivation, w.MlpProjectionWeight, w.MlpProjectionBias, s.MlpBranch, n, f, d, s.InputCopies?.MlpDown,
            inputCopyMade: true);
        _k.GatedResidualForward(s.Middle, s.MlpBranch, _ones, s.Output, 1, n, d, BranchDropout(dropout, layer, 1));
    }

    /// <summary>LN_f on <paramref name="rows"/> rows of <paramref name="input"/>.</summary>
    private void FinalNorm(Tensor<float> input, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd, int rows) =>
        LayerNormWithBias(input, Parameters.FinalNormWeight, Parameters.FinalNormBias, output, mean, rstd, rows);

    /// <summary>
    /// output = LN(input)·weight + bias: the LayerNorm kernel, then the bias as the shift of a zero-scale modulation (in place).
    /// </summary>
    private void LayerNormWithBias(Tensor<float> input, Tensor<float> weight, Tensor<float> bias, Tensor<float> output,
        Tensor<float> mean, Tensor<float> rstd, int rows)
    {
        int d = Config.Hidden;
        _k.LayerNormForward(input, weight, output, mean, rstd, rows, d, GptConfig.LayerNormEpsilon);
        _k.ModulateForward(output, bias, _zeros, output, 1, rows, d);
    }

    private bool UsesDropout(GptDropout dropout) => dropout.Enabled && Config.Dropout > 0f;

    /// <summary>The dropout of block <paramref name="layer"/>'s branch <paramref name="site"/> (0 attention, 1 MLP), or null.</summary>
    private DropoutMask? BranchDropout(GptDropout dropout, int layer, int site) =>
        UsesDropout(dropout) ? new DropoutMask(Config.Dropout, dropout.Seed, dropout.Stream(layer, site)) : null;

    private void CheckActivations(GptActivations a)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.Config != Config)
            throw new ArgumentException($"These activations were made for {a.Config}, not {Config}.", nameof(a));
    }

    private GptParameters RequireGradients() =>
        Gradients ?? throw new InvalidOperationException("This model was created without gradients (withGradients: false).");

    /// <summary>Frees parameters, gradients and constant tables.</summary>
    public void Dispose()
    {
        Parameters.Dispose();
        Gradients?.Dispose();
        foreach (var tensor in new[] { _cos, _sin, _zeros, _ones }) tensor.Buffer.Dispose();
    }
}

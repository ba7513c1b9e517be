using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// What one block reads and writes in a forward pass (N = batch·tokens rows, Bc conditioning rows:
/// 1 without time conditioning, else the batch). In a training arena every block has its own set,
/// kept for the backward pass; in an inference arena all blocks share one set and the residual
/// stream is updated in place (<see cref="Input"/>, <see cref="Middle"/> and <see cref="Output"/> coincide).
/// </summary>
internal sealed class DitLayerActivations
{
    internal DitLayerActivations(Arena<float> arena, string prefix, string input, string middle, string output, int conditionRows,
        bool qkNorm, BlockInputCopies.Lengths copies)
    {
        Input = arena[input];
        Middle = arena[middle];
        Output = arena[output];
        Norm1 = arena[prefix + "norm1"];
        Mean1 = arena[prefix + "mean1"];
        Rstd1 = arena[prefix + "rstd1"];
        Modulated1 = arena[prefix + "modulated1"];
        Qkv = arena[prefix + "qkv"];
        if (qkNorm)
        {
            QkNormalized = arena[prefix + "qk_normalized"];
            QkRstd = arena[prefix + "qk_rstd"];
        }
        Attention = arena[prefix + "attention"];
        LogSumExp = arena[prefix + "logsumexp"];
        AttentionBranch = arena[prefix + "attention_branch"];
        Norm2 = arena[prefix + "norm2"];
        Mean2 = arena[prefix + "mean2"];
        Rstd2 = arena[prefix + "rstd2"];
        Modulated2 = arena[prefix + "modulated2"];
        MlpHidden = arena[prefix + "mlp_hidden"];
        MlpBranch = arena[prefix + "mlp_branch"];
        Modulation = arena[prefix + "modulation"];
        InputCopies = BlockInputCopies.In(arena, prefix, copies);
        var m = Modulation;
        Shift1 = m.Slice(0 * conditionRows, conditionRows);
        Scale1 = m.Slice(1 * conditionRows, conditionRows);
        Gate1 = m.Slice(2 * conditionRows, conditionRows);
        Shift2 = m.Slice(3 * conditionRows, conditionRows);
        Scale2 = m.Slice(4 * conditionRows, conditionRows);
        Gate2 = m.Slice(5 * conditionRows, conditionRows);
    }

    /// <summary>Plans the tensors named with <paramref name="prefix"/> for one block.</summary>
    internal static void Plan(ArenaLayout<float> layout, string prefix, DitConfig config, int batch, int tokens, int conditionRows)
    {
        int n = batch * tokens, d = config.Hidden;
        layout.Add(prefix + "norm1", new Shape(n, d));
        layout.Add(prefix + "mean1", new Shape(n));
        layout.Add(prefix + "rstd1", new Shape(n));
        layout.Add(prefix + "modulated1", new Shape(n, d));
        layout.Add(prefix + "qkv", new Shape(n, 3 * d));
        if (config.QkNorm)
        {
            layout.Add(prefix + "qk_normalized", new Shape(2, n, config.Heads, config.HeadDim));
            layout.Add(prefix + "qk_rstd", new Shape(2, n, config.Heads));
        }
        layout.Add(prefix + "attention", new Shape(n, d));
        layout.Add(prefix + "logsumexp", new Shape(batch, config.Heads, tokens));
        layout.Add(prefix + "attention_branch", new Shape(n, d));
        layout.Add(prefix + "norm2", new Shape(n, d));
        layout.Add(prefix + "mean2", new Shape(n));
        layout.Add(prefix + "rstd2", new Shape(n));
        layout.Add(prefix + "modulated2", new Shape(n, d));
        layout.Add(prefix + "mlp_hidden", new Shape(n, config.MlpHidden));
        layout.Add(prefix + "mlp_branch", new Shape(n, d));
        layout.Add(prefix + "modulation", new Shape(6 * conditionRows, d));
    }

    /// <summary>x entering the block [N, D].</summary>
    public Tensor<float> Input { get; }

    /// <summary>x after the attention residual [N, D].</summary>
    public Tensor<float> Middle { get; }

    /// <summary>x leaving the block [N, D].</summary>
    public Tensor<float> Output { get; }

    /// <summary>LN(x)·norm1 [N, D].</summary>
    public Tensor<float> Norm1 { get; }

    /// <summary>LayerNorm 1 mean [N].</summary>
    public Tensor<float> Mean1 { get; }

    /// <summary>LayerNorm 1 reciprocal standard deviation [N].</summary>
    public Tensor<float> Rstd1 { get; }

    /// <summary>Norm1·(1 + scale1) + shift1 [N, D]: input of attn_qkv.</summary>
    public Tensor<float> Modulated1 { get; }

    /// <summary>q, k (QK-normed when configured, then rotated) and v [B, L, 3, H, D/H].</summary>
    public Tensor<float> Qkv { get; }

    /// <summary>QK-norm's x̂ of every head of q and k [2, N, H, D/H], or null without QK-norm.</summary>
    public Tensor<float>? QkNormalized { get; }

    /// <summary>QK-norm's reciprocal standard deviations [2, N, H], or null without QK-norm.</summary>
    public Tensor<float>? QkRstd { get; }

    /// <summary>Attention output, heads concatenated [N, D]: input of attn_out.</summary>
    public Tensor<float> Attention { get; }

    /// <summary>Attention log-sum-exp per query row [B, H, L].</summary>
    public Tensor<float> LogSumExp { get; }

    /// <summary>Dropout(attn_out(attention)) [N, D].</summary>
    public Tensor<float> AttentionBranch { get; }

    /// <summary>LN(Middle)·norm2 [N, D].</summary>
    public Tensor<float> Norm2 { get; }

    /// <summary>LayerNorm 2 mean [N].</summary>
    public Tensor<float> Mean2 { get; }

    /// <summary>LayerNorm 2 reciprocal standard deviation [N].</summary>
    public Tensor<float> Rstd2 { get; }

    /// <summary>Norm2·(1 + scale2) + shift2 [N, D]: input of mlp.0.</summary>
    public Tensor<float> Modulated2 { get; }

    /// <summary>mlp.0 output before GELU [N, 4D].</summary>
    public Tensor<float> MlpHidden { get; }

    /// <summary>Dropout(mlp.2(GELU(MlpHidden))) [N, D].</summary>
    public Tensor<float> MlpBranch { get; }

    /// <summary>The device's copies of the block's linear inputs (training on a device that keeps them), else null.</summary>
    public BlockInputCopies? InputCopies { get; }

    /// <summary>adaLN output [6, Bc, D] in the order (shift1, scale1, gate1, shift2, scale2, gate2).</summary>
    public Tensor<float> Modulation { get; }

    /// <summary>shift1 [Bc, D].</summary>
    public Tensor<float> Shift1 { get; }

    /// <summary>scale1 [Bc, D].</summary>
    public Tensor<float> Scale1 { get; }

    /// <summary>gate1 [Bc, D].</summary>
    public Tensor<float> Gate1 { get; }

    /// <summary>shift2 [Bc, D].</summary>
    public Tensor<float> Shift2 { get; }

    /// <summary>scale2 [Bc, D].</summary>
    public Tensor<float> Scale2 { get; }

    /// <summary>gate2 [Bc, D].</summary>
    public Tensor<float> Gate2 { get; }
}

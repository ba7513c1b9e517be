using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// What one block's forward pass writes (N = batch·tokens rows): a training arena keeps one set per block for the
/// backward pass; an inference arena shares one set (and one residual buffer, updated in place) by every block.
/// </summary>
internal sealed class GptLayerActivations
{
    internal GptLayerActivations(Arena<float> a, string prefix, string input, string middle, string output,
        BlockInputCopies.Lengths copies)
    {
        Input = a[input];
        Norm1 = a[prefix + "norm1"];
        Mean1 = a[prefix + "mean1"];
        Rstd1 = a[prefix + "rstd1"];
        Qkv = a[prefix + "qkv"];
        Attention = a[prefix + "attention"];
        LogSumExp = a[prefix + "log_sum_exp"];
        AttentionBranch = a[prefix + "attention_branch"];
        Middle = a[middle];
        Norm2 = a[prefix + "norm2"];
        Mean2 = a[prefix + "mean2"];
        Rstd2 = a[prefix + "rstd2"];
        MlpHidden = a[prefix + "mlp_hidden"];
        MlpBranch = a[prefix + "mlp_branch"];
        Output = a[output];
        InputCopies = BlockInputCopies.In(a, prefix, copies);
    }

    /// <summary>x, the block input [N, D].</summary>
    public Tensor<float> Input { get; }

    /// <summary>LN(x)·ln_1.weight + ln_1.bias [N, D].</summary>
    public Tensor<float> Norm1 { get; }

    /// <summary>First LayerNorm mean [N].</summary>
    public Tensor<float> Mean1 { get; }

    /// <summary>First LayerNorm reciprocal standard deviation [N].</summary>
    public Tensor<float> Rstd1 { get; }

    /// <summary>c_attn output [N, 3D] = [batch, tokens, 3, heads, headDim], rotated with rotary positions.</summary>
    public Tensor<float> Qkv { get; }

    /// <summary>Attention output [N, D] = [batch, tokens, heads, headDim].</summary>
    public Tensor<float> Attention { get; }

    /// <summary>Attention log-sum-exp [batch, heads, tokens].</summary>
    public Tensor<float> LogSumExp { get; }

    /// <summary>dropout(c_proj(attention)) [N, D].</summary>
    public Tensor<float> AttentionBranch { get; }

    /// <summary>x + attention branch [N, D].</summary>
    public Tensor<float> Middle { get; }

    /// <summary>LN(middle)·ln_2.weight + ln_2.bias [N, D].</summary>
    public Tensor<float> Norm2 { get; }

    /// <summary>Second LayerNorm mean [N].</summary>
    public Tensor<float> Mean2 { get; }

    /// <summary>Second LayerNorm reciprocal standard deviation [N].</summary>
    public Tensor<float> Rstd2 { get; }

    /// <summary>c_fc output before GELU [N, 4D].</summary>
    public Tensor<float> MlpHidden { get; }

    /// <summary>dropout(c_proj(GELU(hidden))) [N, D].</summary>
    public Tensor<float> MlpBranch { get; }

    /// <summary>Block output middle + MLP branch [N, D].</summary>
    public Tensor<float> Output { get; }

    /// <summary>The device's copies of the block's linear inputs (training on a device that keeps them), else null.</summary>
    public BlockInputCopies? InputCopies { get; }

    /// <summary>Plans one set's own tensors under <paramref name="prefix"/>.</summary>
    internal static void Plan(ArenaLayout<float> layout, string prefix, GptConfig config, int batch, int tokens)
    {
        int n = batch * tokens, d = config.Hidden;
        layout.Add(prefix + "norm1", new Shape(n, d));
        layout.Add(prefix + "mean1", new Shape(n));
        layout.Add(prefix + "rstd1", new Shape(n));
        layout.Add(prefix + "qkv", new Shape(n, 3 * d));
        layout.Add(prefix + "attention", new Shape(n, d));
        layout.Add(prefix + "log_sum_exp", new Shape(batch, config.Heads, tokens));
        layout.Add(prefix + "attention_branch", new Shape(n, d));
        layout.Add(prefix + "norm2", new Shape(n, d));
        layout.Add(prefix + "mean2", new Shape(n));
        layout.Add(prefix + "rstd2", new Shape(n));
        layout.Add(prefix + "mlp_hidden", new Shape(n, config.MlpHidden));
        layout.Add(prefix + "mlp_branch", new Shape(n, d));
    }
}

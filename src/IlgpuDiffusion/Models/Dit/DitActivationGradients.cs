using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Backward scratch of a training arena (N rows, Bc conditioning rows). Block gradients reuse the
/// same buffers layer after layer; every buffer an accumulating kernel writes is zeroed first.
/// </summary>
internal sealed class DitActivationGradients
{
    internal DitActivationGradients(Arena<float> arena, int conditionRows)
    {
        Residual = arena["d.residual"];
        Branch = arena["d.branch"];
        Work = arena["d.work"];
        Norm = arena["d.norm"];
        Qkv = arena["d.qkv"];
        Mlp = arena["d.mlp"];
        HeadInput = arena["d.head_input"];
        Modulation = arena["d.modulation"];
        FinalModulation = arena["d.final_modulation"];
        Condition = arena["d.condition"];
        ConditionPre = arena["d.condition_pre"];
        SigmaHiddenActivated = arena["d.sigma_hidden_activated"];
        SigmaHidden = arena["d.sigma_hidden"];
        ConditionRows = conditionRows;
    }

    internal static void Plan(ArenaLayout<float> layout, DitConfig config, int n, int headCapacity, int conditionRows)
    {
        int d = config.Hidden, c = config.CondDim;
        foreach (string name in new[] { "d.residual", "d.branch", "d.work", "d.norm" })
            layout.Add(name, new Shape(n, d));
        layout.Add("d.qkv", new Shape(n, 3 * d));
        layout.Add("d.mlp", new Shape(n, config.MlpHidden));
        layout.Add("d.head_input", new Shape(headCapacity, d));
        layout.Add("d.modulation", new Shape(6 * conditionRows, d));
        layout.Add("d.final_modulation", new Shape(2 * conditionRows, d));
        foreach (string name in new[] { "d.condition", "d.condition_pre", "d.sigma_hidden_activated", "d.sigma_hidden" })
            layout.Add(name, new Shape(conditionRows, c));
    }

    /// <summary>Bc, the rows of each modulation vector.</summary>
    public int ConditionRows { get; }

    /// <summary>∂L/∂x of the residual stream at the current depth [N, D].</summary>
    public Tensor<float> Residual { get; }

    /// <summary>∂L/∂(branch before its dropout, or the branch when there is none) [N, D].</summary>
    public Tensor<float> Branch { get; }

    /// <summary>Gradient of a Linear input (attention output, modulated rows) [N, D].</summary>
    public Tensor<float> Work { get; }

    /// <summary>∂L/∂(LayerNorm output) [N, D].</summary>
    public Tensor<float> Norm { get; }

    /// <summary>∂L/∂qkv [N, 3D].</summary>
    public Tensor<float> Qkv { get; }

    /// <summary>∂L/∂(pre-GELU) [N, 4D] (the GELU's input).</summary>
    public Tensor<float> Mlp { get; }

    /// <summary>∂L/∂(selected head rows) [HeadCapacity, D].</summary>
    public Tensor<float> HeadInput { get; }

    /// <summary>∂L/∂(adaLN output) of the current block [6, Bc, D].</summary>
    public Tensor<float> Modulation { get; }

    /// <summary>∂L/∂(final adaLN output) [2, Bc, D].</summary>
    public Tensor<float> FinalModulation { get; }

    /// <summary>∂L/∂c [Bc, C], summed over every adaLN linear.</summary>
    public Tensor<float> Condition { get; }

    /// <summary>∂L/∂(sigma_map.mlp.2 output) [Bc, C].</summary>
    public Tensor<float> ConditionPre { get; }

    /// <summary>∂L/∂SiLU(sigma_map.mlp.0 output) [Bc, C].</summary>
    public Tensor<float> SigmaHiddenActivated { get; }

    /// <summary>∂L/∂(sigma_map.mlp.0 output) [Bc, C].</summary>
    public Tensor<float> SigmaHidden { get; }
}

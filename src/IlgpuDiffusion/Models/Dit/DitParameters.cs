using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>The tensors of one transformer block (HF names <c>blocks.{i}.*</c>), PyTorch [out, in] layouts.</summary>
/// <param name="Norm1">norm1.weight [D]</param>
/// <param name="AttnQkv">attn_qkv.weight [3D, D]</param>
/// <param name="AttnOut">attn_out.weight [D, D]</param>
/// <param name="Norm2">norm2.weight [D]</param>
/// <param name="Mlp0Weight">mlp.0.weight [4D, D]</param>
/// <param name="Mlp0Bias">mlp.0.bias [4D]</param>
/// <param name="Mlp2Weight">mlp.2.weight [D, 4D]</param>
/// <param name="Mlp2Bias">mlp.2.bias [D]</param>
/// <param name="AdaWeight">adaLN_modulation.weight [6D, C]: rows (shift1, scale1, gate1, shift2, scale2, gate2)</param>
/// <param name="AdaBias">adaLN_modulation.bias [6D]</param>
/// <param name="QkNorm">qk_norm.weight [2, D/H] (q's, then k's) with <see cref="DitConfig.QkNorm"/>, else null</param>
public readonly record struct DitBlockTensors(
    Tensor<float> Norm1, Tensor<float> AttnQkv, Tensor<float> AttnOut, Tensor<float> Norm2,
    Tensor<float> Mlp0Weight, Tensor<float> Mlp0Bias, Tensor<float> Mlp2Weight, Tensor<float> Mlp2Bias,
    Tensor<float> AdaWeight, Tensor<float> AdaBias, Tensor<float>? QkNorm);

/// <summary>
/// Every parameter of a <see cref="Dit"/> carved from one arena, named exactly as the Hugging Face
/// state dict without its <c>backbone.</c> prefix (docs/algorithms.md §1.6) and laid out in PyTorch module order.
/// The same layout holds gradients, Adam moments and EMA weights, so any of them can be updated
/// with one kernel call over <see cref="NamedParameters{TConfig}.All"/>. The output head's weight and bias are followed
/// by zeros up to <see cref="DitConfig.PaddedVocab"/> rows (<see cref="PaddedOutputWeight"/>): gradients of zero keep
/// them zero through every update, and checkpoints, which store the named tensors, never see them.
/// </summary>
public sealed class DitParameters : NamedParameters<DitConfig>
{
    private DitParameters(DitConfig config, Arena<float> arena, (string, Shape)[] entries)
        : base(config, arena, entries)
    {
        Embedding = arena["vocab_embed.embedding"];
        SigmaWeight0 = arena["sigma_map.mlp.0.weight"];
        SigmaBias0 = arena["sigma_map.mlp.0.bias"];
        SigmaWeight2 = arena["sigma_map.mlp.2.weight"];
        SigmaBias2 = arena["sigma_map.mlp.2.bias"];
        Blocks = Enumerable.Range(0, config.Layers).Select(i => new DitBlockTensors(
            arena[$"blocks.{i}.norm1.weight"], arena[$"blocks.{i}.attn_qkv.weight"], arena[$"blocks.{i}.attn_out.weight"],
            arena[$"blocks.{i}.norm2.weight"], arena[$"blocks.{i}.mlp.0.weight"], arena[$"blocks.{i}.mlp.0.bias"],
            arena[$"blocks.{i}.mlp.2.weight"], arena[$"blocks.{i}.mlp.2.bias"],
            arena[$"blocks.{i}.adaLN_modulation.weight"], arena[$"blocks.{i}.adaLN_modulation.bias"],
            config.QkNorm ? arena[$"blocks.{i}.qk_norm.weight"] : null)).ToArray();
        FinalNorm = arena["output_layer.norm_final.weight"];
        OutputWeight = arena["output_layer.linear.weight"];
        OutputBias = arena["output_layer.linear.bias"];
        PaddedOutputWeight = new Tensor<float>(OutputWeight.Buffer, OutputWeight.Offset, new Shape(config.PaddedVocab, config.Hidden));
        PaddedOutputBias = new Tensor<float>(OutputBias.Buffer, OutputBias.Offset, new Shape(config.PaddedVocab));
        FinalAdaWeight = arena["output_layer.adaLN_modulation.weight"];
        FinalAdaBias = arena["output_layer.adaLN_modulation.bias"];
    }

    /// <summary>vocab_embed.embedding [V, D].</summary>
    public Tensor<float> Embedding { get; }

    /// <summary>sigma_map.mlp.0.weight [C, 256].</summary>
    public Tensor<float> SigmaWeight0 { get; }

    /// <summary>sigma_map.mlp.0.bias [C].</summary>
    public Tensor<float> SigmaBias0 { get; }

    /// <summary>sigma_map.mlp.2.weight [C, C].</summary>
    public Tensor<float> SigmaWeight2 { get; }

    /// <summary>sigma_map.mlp.2.bias [C].</summary>
    public Tensor<float> SigmaBias2 { get; }

    /// <summary>The blocks, in order.</summary>
    public IReadOnlyList<DitBlockTensors> Blocks { get; }

    /// <summary>
    /// Where each block's parameters lie in <see cref="NamedParameters{TConfig}.All"/> (offset and length, block 0 first).
    /// </summary>
    internal IReadOnlyList<(long Offset, long Length)> BlockRanges =>
        [.. Blocks.Select(b => (b.Norm1.Offset - All.Offset, b.AdaBias.Offset + b.AdaBias.Length - b.Norm1.Offset))];

    /// <summary>output_layer.norm_final.weight [D].</summary>
    public Tensor<float> FinalNorm { get; }

    /// <summary>output_layer.linear.weight [V, D].</summary>
    public Tensor<float> OutputWeight { get; }

    /// <summary>output_layer.linear.bias [V].</summary>
    public Tensor<float> OutputBias { get; }

    /// <summary><see cref="OutputWeight"/> and its zero padding rows: [PaddedVocab, D], the weight the head runs with.</summary>
    internal Tensor<float> PaddedOutputWeight { get; }

    /// <summary><see cref="OutputBias"/> and its zero padding: [PaddedVocab].</summary>
    internal Tensor<float> PaddedOutputBias { get; }

    /// <summary>output_layer.adaLN_modulation.weight [2D, C]: rows (shift, scale).</summary>
    public Tensor<float> FinalAdaWeight { get; }

    /// <summary>output_layer.adaLN_modulation.bias [2D].</summary>
    public Tensor<float> FinalAdaBias { get; }

    /// <summary>Allocates a zero-filled set of tensors for <paramref name="config"/> on <paramref name="device"/>.</summary>
    public static DitParameters Allocate(DitConfig config, Device device)
    {
        var entries = Layout(config.Validate());
        var capacities = new Dictionary<string, long>
        {
            ["output_layer.linear.weight"] = (long)config.PaddedVocab * config.Hidden,
            ["output_layer.linear.bias"] = config.PaddedVocab,
        };
        return new DitParameters(config, AllocateArena(entries, device, capacities), entries);
    }

    /// <summary>The names and PyTorch shapes of the parameters of <paramref name="config"/>, in module order.</summary>
    public static (string Name, Shape Shape)[] Layout(DitConfig config)
    {
        int d = config.Hidden, c = config.CondDim, v = config.Vocab, f = config.MlpHidden;
        var entries = new List<(string, Shape)>
        {
            ("vocab_embed.embedding", new Shape(v, d)),
            ("sigma_map.mlp.0.weight", new Shape(c, DitConfig.FrequencyEmbeddingSize)),
            ("sigma_map.mlp.0.bias", new Shape(c)),
            ("sigma_map.mlp.2.weight", new Shape(c, c)),
            ("sigma_map.mlp.2.bias", new Shape(c)),
        };
        for (int i = 0; i < config.Layers; i++)
        {
            string b = $"blocks.{i}.";
            entries.Add((b + "norm1.weight", new Shape(d)));
            entries.Add((b + "attn_qkv.weight", new Shape(3 * d, d)));
            if (config.QkNorm) entries.Add((b + "qk_norm.weight", new Shape(2, config.HeadDim)));
            entries.Add((b + "attn_out.weight", new Shape(d, d)));
            entries.Add((b + "norm2.weight", new Shape(d)));
            entries.Add((b + "mlp.0.weight", new Shape(f, d)));
            entries.Add((b + "mlp.0.bias", new Shape(f)));
            entries.Add((b + "mlp.2.weight", new Shape(d, f)));
            entries.Add((b + "mlp.2.bias", new Shape(d)));
            entries.Add((b + "adaLN_modulation.weight", new Shape(6 * d, c)));
            entries.Add((b + "adaLN_modulation.bias", new Shape(6 * d)));
        }
        entries.Add(("output_layer.norm_final.weight", new Shape(d)));
        entries.Add(("output_layer.linear.weight", new Shape(v, d)));
        entries.Add(("output_layer.linear.bias", new Shape(v)));
        entries.Add(("output_layer.adaLN_modulation.weight", new Shape(2 * d, c)));
        entries.Add(("output_layer.adaLN_modulation.bias", new Shape(2 * d)));
        return entries.ToArray();
    }
}

using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>The tensors of one block (HF names <c>h.{i}.*</c>); Linear weights in our [out, in] layout.</summary>
/// <param name="Norm1Weight">ln_1.weight [D]</param>
/// <param name="Norm1Bias">ln_1.bias [D]</param>
/// <param name="QkvWeight">attn.c_attn.weight [3D, D] (HF Conv1D stores its transpose [D, 3D])</param>
/// <param name="QkvBias">attn.c_attn.bias [3D]: q, k, v, each head-major</param>
/// <param name="ProjectionWeight">attn.c_proj.weight [D, D]</param>
/// <param name="ProjectionBias">attn.c_proj.bias [D]</param>
/// <param name="Norm2Weight">ln_2.weight [D]</param>
/// <param name="Norm2Bias">ln_2.bias [D]</param>
/// <param name="FcWeight">mlp.c_fc.weight [4D, D]</param>
/// <param name="FcBias">mlp.c_fc.bias [4D]</param>
/// <param name="MlpProjectionWeight">mlp.c_proj.weight [D, 4D]</param>
/// <param name="MlpProjectionBias">mlp.c_proj.bias [D]</param>
public readonly record struct GptBlockTensors(
    Tensor<float> Norm1Weight, Tensor<float> Norm1Bias, Tensor<float> QkvWeight, Tensor<float> QkvBias,
    Tensor<float> ProjectionWeight, Tensor<float> ProjectionBias, Tensor<float> Norm2Weight, Tensor<float> Norm2Bias,
    Tensor<float> FcWeight, Tensor<float> FcBias, Tensor<float> MlpProjectionWeight, Tensor<float> MlpProjectionBias);

/// <summary>
/// Every parameter of a <see cref="Gpt"/> carved from one arena, named as the Hugging Face GPT-2 state dict
/// (<c>wte.weight</c>, <c>wpe.weight</c>, <c>h.{i}.ln_1.weight</c>, ..., <c>ln_f.bias</c>, and <c>lm_head.weight</c>
/// when the head is untied), in module order. Linear weights are stored [out, in] as our Linear kernels take them:
/// the transpose of HF's Conv1D [in, out] (<see cref="IsConv1DWeight"/>). The same layout holds gradients, Adam
/// moments and EMA weights, so any of them is updated with one kernel call over <see cref="NamedParameters{TConfig}.All"/>.
/// The head's weight (wte when tied) is followed by zeros up to <see cref="GptConfig.PaddedVocab"/> rows
/// (<see cref="PaddedHeadWeight"/>): gradients of zero keep them zero through every update, and checkpoints, which store
/// the named tensors, never see them.
/// </summary>
public sealed class GptParameters : NamedParameters<GptConfig>
{
    private GptParameters(GptConfig config, Arena<float> arena, (string, Shape)[] entries)
        : base(config, arena, entries)
    {
        TokenEmbedding = arena["wte.weight"];
        PositionEmbedding = config.Positions == GptPositions.Learned ? arena["wpe.weight"] : null;
        Blocks = Enumerable.Range(0, config.Layers).Select(i =>
        {
            string h = $"h.{i}.";
            return new GptBlockTensors(arena[h + "ln_1.weight"], arena[h + "ln_1.bias"],
                arena[h + "attn.c_attn.weight"], arena[h + "attn.c_attn.bias"],
                arena[h + "attn.c_proj.weight"], arena[h + "attn.c_proj.bias"],
                arena[h + "ln_2.weight"], arena[h + "ln_2.bias"], arena[h + "mlp.c_fc.weight"], arena[h + "mlp.c_fc.bias"],
                arena[h + "mlp.c_proj.weight"], arena[h + "mlp.c_proj.bias"]);
        }).ToArray();
        FinalNormWeight = arena["ln_f.weight"];
        FinalNormBias = arena["ln_f.bias"];
        HeadWeight = config.TiedHead ? TokenEmbedding : arena["lm_head.weight"];
        PaddedHeadWeight = new Tensor<float>(HeadWeight.Buffer, HeadWeight.Offset, new Shape(config.PaddedVocab, config.Hidden));
    }

    /// <summary>wte.weight [V, D].</summary>
    public Tensor<float> TokenEmbedding { get; }

    /// <summary>wpe.weight [L, D]; null with rotary positions.</summary>
    public Tensor<float>? PositionEmbedding { get; }

    /// <summary>The blocks, in order.</summary>
    public IReadOnlyList<GptBlockTensors> Blocks { get; }

    /// <summary>
    /// Where each block's parameters lie in <see cref="NamedParameters{TConfig}.All"/> (offset and length, block 0 first).
    /// </summary>
    internal IReadOnlyList<(long Offset, long Length)> BlockRanges => [.. Blocks.Select(b =>
        (b.Norm1Weight.Offset - All.Offset, b.MlpProjectionBias.Offset + b.MlpProjectionBias.Length - b.Norm1Weight.Offset))];

    /// <summary>ln_f.weight [D].</summary>
    public Tensor<float> FinalNormWeight { get; }

    /// <summary>ln_f.bias [D].</summary>
    public Tensor<float> FinalNormBias { get; }

    /// <summary>The output head [V, D]: <see cref="TokenEmbedding"/> when tied, else lm_head.weight.</summary>
    public Tensor<float> HeadWeight { get; }

    /// <summary><see cref="HeadWeight"/> and its zero padding rows: [PaddedVocab, D], the weight the head runs with.</summary>
    internal Tensor<float> PaddedHeadWeight { get; }

    /// <summary>Allocates a zero-filled set of tensors for <paramref name="config"/> on <paramref name="device"/>.</summary>
    public static GptParameters Allocate(GptConfig config, Device device)
    {
        var entries = Layout(config.Validate());
        var capacities = new Dictionary<string, long>
        {
            [config.TiedHead ? "wte.weight" : "lm_head.weight"] = (long)config.PaddedVocab * config.Hidden,
        };
        return new GptParameters(config, AllocateArena(entries, device, capacities), entries);
    }

    /// <summary>Whether <paramref name="name"/> is a weight that HF GPT-2 stores as a Conv1D [in, out], the transpose of ours.</summary>
    public static bool IsConv1DWeight(string name) =>
        name.EndsWith(".c_attn.weight", StringComparison.Ordinal) || name.EndsWith(".c_proj.weight", StringComparison.Ordinal)
        || name.EndsWith(".c_fc.weight", StringComparison.Ordinal);

    /// <summary>
    /// The names and shapes (our [out, in] Linear layouts) of the parameters of <paramref name="config"/>, in module order.
    /// </summary>
    public static (string Name, Shape Shape)[] Layout(GptConfig config)
    {
        int d = config.Hidden, f = config.MlpHidden, v = config.Vocab;
        var entries = new List<(string, Shape)> { ("wte.weight", new Shape(v, d)) };
        if (config.Positions == GptPositions.Learned) entries.Add(("wpe.weight", new Shape(config.Length, d)));
        for (int i = 0; i < config.Layers; i++)
        {
            string h = $"h.{i}.";
            entries.Add((h + "ln_1.weight", new Shape(d)));
            entries.Add((h + "ln_1.bias", new Shape(d)));
            entries.Add((h + "attn.c_attn.weight", new Shape(3 * d, d)));
            entries.Add((h + "attn.c_attn.bias", new Shape(3 * d)));
            entries.Add((h + "attn.c_proj.weight", new Shape(d, d)));
            entries.Add((h + "attn.c_proj.bias", new Shape(d)));
            entries.Add((h + "ln_2.weight", new Shape(d)));
            entries.Add((h + "ln_2.bias", new Shape(d)));
            entries.Add((h + "mlp.c_fc.weight", new Shape(f, d)));
            entries.Add((h + "mlp.c_fc.bias", new Shape(f)));
            entries.Add((h + "mlp.c_proj.weight", new Shape(d, f)));
            entries.Add((h + "mlp.c_proj.bias", new Shape(d)));
        }
        entries.Add(("ln_f.weight", new Shape(d)));
        entries.Add(("ln_f.bias", new Shape(d)));
        if (!config.TiedHead) entries.Add(("lm_head.weight", new Shape(v, d)));
        return entries.ToArray();
    }
}

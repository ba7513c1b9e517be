using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Models;

/// <summary>
/// Shape and regularization of the MDLM diffusion transformer (docs/algorithms.md §1.2–§1.4). Presets follow the
/// paper's sizes; change any field with <c>with</c> and call <see cref="Validate"/> (the model does).
/// </summary>
public sealed record DitConfig
{
    /// <summary>Width of the sinusoidal timestep embedding (GLIDE/DiT): 128 cosines then 128 sines.</summary>
    public const int FrequencyEmbeddingSize = 256;

    /// <summary>MLP hidden width as a multiple of <see cref="Hidden"/>.</summary>
    public const int MlpRatio = 4;

    /// <summary>LayerNorm epsilon.</summary>
    public const float LayerNormEpsilon = 1e-5f;

    /// <summary>Number of transformer blocks (HF <c>n_blocks</c>).</summary>
    public int Layers { get; init; }

    /// <summary>Residual width D (HF <c>hidden_dim</c>).</summary>
    public int Hidden { get; init; }

    /// <summary>Attention heads H (HF <c>n_heads</c>); D/H must be even for the rotary embedding.</summary>
    public int Heads { get; init; }

    /// <summary>Conditioning width (HF <c>cond_dim</c>).</summary>
    public int CondDim { get; init; } = 128;

    /// <summary>Model vocabulary, MASK included (HF <c>vocab_size</c>).</summary>
    public int Vocab { get; init; } = Gpt2Tokenizer.ModelVocabularySize;

    /// <summary>
    /// Name of the tokenizer whose ids the model reads and writes (<see cref="Data.Tokenizer.Names"/>), so that a checkpoint
    /// says how to encode prompts and decode samples; checkpoints without it are GPT-2's. A model over all of a tokenizer's
    /// ids has <see cref="Vocab"/> = its <see cref="Data.Tokenizer.ModelVocabularySize"/>; small test models may use fewer.
    /// </summary>
    public string Tokenizer { get; init; } = Gpt2Tokenizer.Name;

    /// <summary>Longest sequence, the size of the rotary tables (HF <c>model_length</c>).</summary>
    public int Length { get; init; } = 1024;

    /// <summary>Dropout probability on both residual branches, in training only.</summary>
    public float Dropout { get; init; } = 0.1f;

    /// <summary>Whether the conditioning depends on sigma; false for every released MDLM/SDTT checkpoint.</summary>
    public bool TimeConditioning { get; init; }

    /// <summary>
    /// QK-norm: a LayerNorm without bias over every head of q and of k before the rotary embedding (own weights for q
    /// and k, shared by the heads; docs/algorithms.md §1.2). It keeps the attention logits bounded, so that masked
    /// queries, which in the first block all share one vector, do not collapse onto a single key. Not part of MDLM:
    /// false for every released MDLM/SDTT checkpoint.
    /// </summary>
    public bool QkNorm { get; init; }

    /// <summary>Head dimension D/H.</summary>
    public int HeadDim => Hidden / Heads;

    /// <summary>MLP hidden width 4·D.</summary>
    public int MlpHidden => MlpRatio * Hidden;

    /// <summary>The MASK id: the last vocabulary entry (50257 for GPT-2).</summary>
    public int MaskIndex => Vocab - 1;

    /// <summary>The multiple of columns the output head's width is rounded up to (<see cref="PaddedVocab"/>).</summary>
    public const int HeadColumnMultiple = 64;

    /// <summary>
    /// Columns of the output head's logits: <see cref="Vocab"/> rounded up to a multiple of
    /// <see cref="HeadColumnMultiple"/> (50258 → 50304), so that the head's matrix products run on whole, aligned tiles.
    /// The columns from Vocab on are padding: their weights and biases stay zero, the losses, divergences and samplers
    /// skip them and give them zero gradient, and checkpoints hold Vocab rows only.
    /// </summary>
    public int PaddedVocab => (Vocab + HeadColumnMultiple - 1) / HeadColumnMultiple * HeadColumnMultiple;

    /// <summary>4 layers, 256 wide, 4 heads, L 128: tests and CPU demos.</summary>
    public static DitConfig Tiny { get; } = new() { Layers = 4, Hidden = 256, Heads = 4, Length = 128 };

    /// <summary>The paper's small model (MDLM-OWT): 12 layers, 768 wide, 12 heads, L 1024, 169.63M parameters.</summary>
    public static DitConfig Small { get; } = new() { Layers = 12, Hidden = 768, Heads = 12 };

    /// <summary>Medium: 24 layers, 1024 wide, 16 heads (424.48M parameters).</summary>
    public static DitConfig Medium { get; } = new() { Layers = 24, Hidden = 1024, Heads = 16 };

    /// <summary>Large: 24 layers, 1536 wide, 16 heads (863.16M parameters).</summary>
    public static DitConfig Large { get; } = new() { Layers = 24, Hidden = 1536, Heads = 16 };

    /// <summary>Throws <see cref="ArgumentException"/> explaining the first inconsistent field.</summary>
    public DitConfig Validate()
    {
        Positive(Layers, nameof(Layers));
        Positive(Hidden, nameof(Hidden));
        Positive(Heads, nameof(Heads));
        Positive(CondDim, nameof(CondDim));
        Positive(Length, nameof(Length));
        if (Vocab < 2)
            throw new ArgumentException($"{nameof(Vocab)} must be at least 2 (one token and MASK); got {Vocab}.");
        Data.Tokenizer.ForModel(Tokenizer, Vocab);
        if (Hidden % Heads != 0)
            throw new ArgumentException($"{nameof(Hidden)} {Hidden} is not divisible by {nameof(Heads)} {Heads}.");
        if (HeadDim % 2 != 0)
            throw new ArgumentException($"The head dimension {Hidden}/{Heads} = {HeadDim} is odd; the rotary embedding needs it even.");
        if (!(Dropout >= 0f && Dropout < 1f))
            throw new ArgumentException($"{nameof(Dropout)} must be in [0, 1); got {Dropout}.");
        if ((long)MlpHidden * Hidden > int.MaxValue || (long)Vocab * Hidden > int.MaxValue
            || (long)PaddedVocab * Hidden > int.MaxValue)
            throw new ArgumentException($"A weight matrix of this config exceeds {int.MaxValue} elements.");
        if ((long)Length * MlpHidden > int.MaxValue)
            throw new ArgumentException($"{nameof(Length)} {Length} × MLP width {MlpHidden} exceeds {int.MaxValue}: " +
                "the activations of one sequence of the model's length could not be indexed.");
        Int128 parameters = CountParameters();
        if (parameters > int.MaxValue)
            throw new ArgumentException($"{nameof(Layers)} {Layers} of width {Hidden} make {parameters} parameters; " +
                $"a model holds at most {int.MaxValue}.");
        return this;
    }

    /// <summary>Trainable parameters: embedding, conditioning MLP, blocks, final layer (the rotary buffer excluded).</summary>
    public long ParameterCount() => checked((long)CountParameters());

    /// <summary>The parameter count in 128 bits: no config of <see cref="int"/> fields overflows it.</summary>
    private Int128 CountParameters()
    {
        Int128 d = Hidden, c = CondDim, v = Vocab, f = MlpHidden;
        Int128 sigmaMap = FrequencyEmbeddingSize * c + c + c * c + c;
        Int128 block = (QkNorm ? 2 * HeadDim : 0) + 2 * d + 3 * d * d + d * d + (f * d + f) + (d * f + d) + (6 * d * c + 6 * d);
        Int128 final = d + (v * d + v) + (2 * d * c + 2 * d);
        return v * d + sigmaMap + Layers * block + final;
    }

    /// <summary>
    /// Model FLOPs of one training token (forward + backward) at sequence length <paramref name="tokens"/>, for MFU:
    /// 6 per weight a token passes through (2 forward, 4 backward) plus the attention term 12·layers·L·D of PaLM's
    /// appendix B (arXiv:2204.02311; QKᵀ and AV, forward and backward). The input embedding is a lookup and counts 0.
    /// The output head counts for every token although training computes it only on masked rows, as the usual
    /// estimate does. A forward pass alone is a third of it.
    /// </summary>
    public double TrainingFlopsPerToken(int tokens)
    {
        double weights = ParameterCount() - (double)Vocab * Hidden;
        return 6 * weights + 12.0 * Layers * tokens * Hidden;
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0) throw new ArgumentException($"{name} must be positive; got {value}.");
    }
}

using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Models;

/// <summary>How a <see cref="Gpt"/> tells positions apart.</summary>
public enum GptPositions
{
    /// <summary>A learned table added to the token embedding (<c>wpe.weight</c>, the GPT-2 layout).</summary>
    Learned,

    /// <summary>Rotary embedding of q and k in every block (rotate-half, base 10000), as the diffusion model.</summary>
    Rotary,
}

/// <summary>
/// Shape and regularization of the GPT-style causal transformer. Presets follow GPT-2's sizes (vocabulary
/// 50257, learned positions, tied head); change any field with <c>with</c>, e.g. <c>Vocab = 50258</c> to share
/// the MDLM vocabulary, and call <see cref="Validate"/> (the model does).
/// </summary>
public sealed record GptConfig
{
    /// <summary>MLP hidden width as a multiple of <see cref="Hidden"/>.</summary>
    public const int MlpRatio = 4;

    /// <summary>LayerNorm epsilon (GPT-2's <c>layer_norm_epsilon</c>).</summary>
    public const float LayerNormEpsilon = 1e-5f;

    /// <summary>Number of transformer blocks (HF <c>n_layer</c>).</summary>
    public int Layers { get; init; }

    /// <summary>Residual width D (HF <c>n_embd</c>).</summary>
    public int Hidden { get; init; }

    /// <summary>Attention heads H (HF <c>n_head</c>).</summary>
    public int Heads { get; init; }

    /// <summary>Vocabulary V (HF <c>vocab_size</c>): 50257 for GPT-2, 50258 to share the MDLM vocabulary.</summary>
    public int Vocab { get; init; } = Gpt2Tokenizer.VocabularySize;

    /// <summary>
    /// Columns of the output head's logits: <see cref="Vocab"/> rounded up to a multiple of
    /// <see cref="DitConfig.HeadColumnMultiple"/> (50257 → 50304), so that the head's matrix products run on whole,
    /// aligned tiles. The columns from Vocab on are padding: their weights stay zero, the losses and samplers skip them and
    /// give them zero gradient, and checkpoints hold Vocab rows only.
    /// </summary>
    public int PaddedVocab => (Vocab + DitConfig.HeadColumnMultiple - 1) / DitConfig.HeadColumnMultiple * DitConfig.HeadColumnMultiple;

    /// <summary>
    /// Name of the tokenizer whose ids the model reads and writes (<see cref="Data.Tokenizer.Names"/>; checkpoints without it
    /// are GPT-2's). <see cref="Vocab"/> is at most its <see cref="Data.Tokenizer.ModelVocabularySize"/>.
    /// </summary>
    public string Tokenizer { get; init; } = Gpt2Tokenizer.Name;

    /// <summary>Longest sequence (HF <c>n_positions</c>): the rows of the position table, or of the rotary tables.</summary>
    public int Length { get; init; } = 1024;

    /// <summary>Learned positions (GPT-2) or rotary.</summary>
    public GptPositions Positions { get; init; } = GptPositions.Learned;

    /// <summary>Whether the output head is the token embedding (GPT-2) or its own <c>lm_head.weight</c>.</summary>
    public bool TiedHead { get; init; } = true;

    /// <summary>
    /// Dropout probability in training on the embedding output and on both residual branches (GPT-2's
    /// <c>embd_pdrop</c> and <c>resid_pdrop</c>); attention probabilities are not dropped.
    /// </summary>
    public float Dropout { get; init; }

    /// <summary>Head dimension D/H.</summary>
    public int HeadDim => Hidden / Heads;

    /// <summary>MLP hidden width 4·D.</summary>
    public int MlpHidden => MlpRatio * Hidden;

    /// <summary>4 layers, 256 wide, 4 heads, L 128: tests and CPU demos.</summary>
    public static GptConfig Tiny { get; } = new() { Layers = 4, Hidden = 256, Heads = 4, Length = 128 };

    /// <summary>GPT-2 small (<c>openai-community/gpt2</c>): 12 layers, 768 wide, 12 heads, 124.44M parameters.</summary>
    public static GptConfig Gpt2 { get; } = new() { Layers = 12, Hidden = 768, Heads = 12 };

    /// <summary>GPT-2 medium: 24 layers, 1024 wide, 16 heads, 354.82M parameters.</summary>
    public static GptConfig Gpt2Medium { get; } = new() { Layers = 24, Hidden = 1024, Heads = 16 };

    /// <summary>GPT-2 large (the generative-perplexity judge): 36 layers, 1280 wide, 20 heads, 774.03M parameters.</summary>
    public static GptConfig Gpt2Large { get; } = new() { Layers = 36, Hidden = 1280, Heads = 20 };

    /// <summary>Throws <see cref="ArgumentException"/> explaining the first inconsistent field.</summary>
    public GptConfig Validate()
    {
        Positive(Layers, nameof(Layers));
        Positive(Hidden, nameof(Hidden));
        Positive(Heads, nameof(Heads));
        Positive(Vocab, nameof(Vocab));
        Positive(Length, nameof(Length));
        Data.Tokenizer.ForModel(Tokenizer, Vocab);
        if (Hidden % Heads != 0)
            throw new ArgumentException($"{nameof(Hidden)} {Hidden} is not divisible by {nameof(Heads)} {Heads}.");
        if (Positions == GptPositions.Rotary && HeadDim % 2 != 0)
            throw new ArgumentException($"The head dimension {Hidden}/{Heads} = {HeadDim} is odd; the rotary embedding needs it even.");
        if (!Enum.IsDefined(Positions))
            throw new ArgumentException($"Unknown position kind {Positions}.");
        if (!(Dropout >= 0f && Dropout < 1f))
            throw new ArgumentException($"{nameof(Dropout)} must be in [0, 1); got {Dropout}.");
        if ((long)MlpHidden * Hidden > int.MaxValue || (long)PaddedVocab * Hidden > int.MaxValue)
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

    /// <summary>Trainable parameters: embeddings, blocks, final LayerNorm and (untied) head.</summary>
    public long ParameterCount() => checked((long)CountParameters());

    /// <summary>The parameter count in 128 bits: no config of <see cref="int"/> fields overflows it.</summary>
    private Int128 CountParameters()
    {
        Int128 d = Hidden, f = MlpHidden;
        Int128 block = 2 * (2 * d) + (3 * d * d + 3 * d) + (d * d + d) + (f * d + f) + (d * f + d);
        Int128 positions = Positions == GptPositions.Learned ? Length * d : 0;
        Int128 head = TiedHead ? 0 : Vocab * d;
        return Vocab * d + positions + Layers * block + 2 * d + head;
    }

    /// <summary>
    /// Model FLOPs of one training token (forward + backward) at sequence length <paramref name="tokens"/>, for MFU: 6 per
    /// weight a token passes through (the head included, the embedding lookups not) plus 12·layers·L·D for attention.
    /// </summary>
    public double TrainingFlopsPerToken(int tokens)
    {
        double lookups = (double)Vocab * Hidden + (Positions == GptPositions.Learned ? (double)Length * Hidden : 0);
        double head = (double)Vocab * Hidden; // a separate matrix when untied, wte again when tied
        double weights = ParameterCount() - lookups + (TiedHead ? head : 0);
        return 6 * weights + 12.0 * Layers * tokens * Hidden;
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0) throw new ArgumentException($"{name} must be positive; got {value}.");
    }
}

namespace IlgpuDiffusion.Models;

/// <summary>
/// The logit rows of a diffusion model's output head: <paramref name="Width"/> columns, of which the first
/// <paramref name="Vocab"/> are the vocabulary (MASK last) and the rest padding that takes no part
/// (<see cref="DitConfig.PaddedVocab"/>).
/// </summary>
/// <param name="Vocab">V: the model vocabulary, MASK included as the last entry.</param>
/// <param name="Width">Columns per row, at least <paramref name="Vocab"/>.</param>
internal readonly record struct HeadLayout(int Vocab, int Width)
{
    /// <summary>The head of <paramref name="config"/>: its vocabulary, padded to <see cref="DitConfig.PaddedVocab"/>.</summary>
    public static HeadLayout Of(DitConfig config) => new(config.Vocab, config.PaddedVocab);

    /// <summary>The MASK id: the last vocabulary entry.</summary>
    public int MaskIndex => Vocab - 1;

    /// <summary>Throws unless the vocabulary holds a token and MASK and fits the width.</summary>
    public HeadLayout Validate(string paramName)
    {
        if (Vocab < 2 || Width < Vocab)
            throw new ArgumentOutOfRangeException(paramName,
                $"A head needs a vocabulary of at least 2 (a token and MASK) within its width; got {Vocab} of {Width}.");
        return this;
    }
}

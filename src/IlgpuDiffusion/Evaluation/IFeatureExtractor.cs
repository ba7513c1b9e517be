namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Turns token sequences into fixed-width feature vectors for <see cref="Mauve"/>: the reference MAUVE uses the final
/// hidden state of GPT-2 large at each text's last token (<c>featurize_tokens_from_model</c>).
/// </summary>
public interface IFeatureExtractor
{
    /// <summary>Width of every feature vector.</summary>
    int FeatureWidth { get; }

    /// <summary>One feature vector per sequence, in order.</summary>
    /// <param name="sequences">Token ids in the extractor's vocabulary, each 1 .. its context length long.</param>
    float[][] Features(IReadOnlyList<int[]> sequences);
}

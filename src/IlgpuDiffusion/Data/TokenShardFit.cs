namespace IlgpuDiffusion.Data;

/// <summary>
/// Where token shards meet a model (trainers, distiller, validation): the shards must come from the tokenizer the
/// model's config names, and their ids must fit the model's embedding. Checked once, before any step, so that a
/// mismatch is an error that says what to change instead of a failed lookup deep in a kernel.
/// </summary>
internal static class TokenShardFit
{
    /// <summary>
    /// Throws unless <paramref name="data"/> fits a model over <paramref name="modelTokenizer"/> with <paramref name="vocab"/> ids.
    /// </summary>
    /// <param name="data">The shards.</param>
    /// <param name="modelTokenizer">The tokenizer name of the model's config.</param>
    /// <param name="vocab">The model's vocabulary.</param>
    /// <param name="withMask">Whether the model's last id is MASK (a diffusion model), which no data id may take.</param>
    /// <param name="parameterName">The argument that holds the data, for the exception.</param>
    /// <exception cref="ArgumentException">The tokenizers differ, or an id of the data is beyond the model's data ids.</exception>
    public static void Require(TokenShardSet data, string modelTokenizer, int vocab, bool withMask, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Tokenizer is Tokenizer made && made.Name != modelTokenizer)
            throw new ArgumentException($"The data was prepared with the {made.Name} tokenizer, but the model's config names " +
                $"{modelTokenizer}. Build the model for {made.Name} (Tokenizer \"{made.Name}\", Vocab " +
                $"{(withMask ? made.ModelVocabularySize : made.VocabularySize)}), or prepare the data with {modelTokenizer}.",
                parameterName);
        int dataIds = withMask ? vocab - 1 : vocab;
        if (data.VocabularySize > dataIds)
            throw new ArgumentException($"The data's ids reach {data.VocabularySize - 1} (vocabulary " +
                $"{Tokenizer.DescribeVocabulary(data.VocabularySize)}), but the model's Vocab {vocab} holds ids 0..{dataIds - 1}" +
                $"{(withMask ? $" and MASK {vocab - 1}" : "")}. Build the model with Vocab " +
                $"{data.VocabularySize + (withMask ? 1 : 0)} (the tokenizer's {(withMask ? "ModelVocabularySize" : "VocabularySize")}), " +
                $"or use data prepared with the model's tokenizer ({modelTokenizer}).", parameterName);
    }
}

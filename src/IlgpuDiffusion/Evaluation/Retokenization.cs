using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// How the MDLM/DUO generative perplexity turns a model sample into judge tokens: decode the sample to text, then
/// encode the text with the judge's tokenizer, whose end-of-text id marks the end of a document.
/// </summary>
/// <param name="DecodeSample">Model ids to text.</param>
/// <param name="EncodeForJudge">Text to judge ids.</param>
/// <param name="JudgeEndOfText">The judge's end-of-text id (only the first one of a sample is scored).</param>
public sealed record Retokenization(Func<int[], string> DecodeSample, Func<string, int[]> EncodeForJudge, int JudgeEndOfText)
{
    /// <summary>
    /// The name of the tokenizer whose ids <see cref="DecodeSample"/> reads, when known (<see cref="For"/> sets it):
    /// <see cref="EvaluationSuite"/> refuses to decode samples of models over another tokenizer with it.
    /// </summary>
    public string? SampleTokenizer { get; init; }

    /// <summary>
    /// A GPT-2 judge (GPT-2 weights or the library's own AR model) of GPT-2 samples. By default the decoded text keeps
    /// <c>&lt;|endoftext|&gt;</c>, which encodes back to id 50256, as in MDLM's <c>compute_generative_perplexity</c>;
    /// with <paramref name="stripEndOfText"/> EOS (and any MASK) is dropped before retokenizing, as in SDTT's
    /// Llama-3 judge runs.
    /// </summary>
    public static Retokenization Gpt2(bool stripEndOfText = false) => For(Gpt2Tokenizer.Shared, Gpt2Tokenizer.Shared, stripEndOfText);

    /// <summary>
    /// Samples over <paramref name="samples"/> decoded to text and encoded with <paramref name="judge"/>;
    /// <paramref name="stripEndOfText"/> as in <see cref="Gpt2"/>. Every end-of-text the decoded text keeps (written
    /// <see cref="Tokenizer.EndOfTextMarker"/>) becomes the judge's end-of-text id, as GPT-2's tokenizer does by itself,
    /// so document ends survive the round trip for every tokenizer.
    /// </summary>
    public static Retokenization For(Tokenizer samples, Tokenizer judge, bool stripEndOfText = false)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(judge);
        return new Retokenization(ids => samples.Decode(ids, skipSpecial: stripEndOfText), text => EncodeMarkingEndOfText(judge, text),
            judge.EndOfText)
        {
            SampleTokenizer = samples.Name,
        };
    }

    private static int[] EncodeMarkingEndOfText(Tokenizer judge, string text)
    {
        string[] documents = text.Split(Tokenizer.EndOfTextMarker);
        var ids = new List<int>(text.Length);
        for (int i = 0; i < documents.Length; i++)
        {
            if (i > 0) ids.Add(judge.EndOfText);
            ids.AddRange(judge.Encode(documents[i]));
        }
        return [.. ids];
    }
}

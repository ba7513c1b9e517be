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
    /// A GPT-2 judge (GPT-2 weights or the library's own AR model). By default the decoded text keeps
    /// <c>&lt;|endoftext|&gt;</c>, which encodes back to id 50256, as in MDLM's <c>compute_generative_perplexity</c>;
    /// with <paramref name="stripEndOfText"/> EOS (and any MASK) is dropped before retokenizing, as in SDTT's
    /// Llama-3 judge runs.
    /// </summary>
    public static Retokenization Gpt2(bool stripEndOfText = false) => new(
        ids => Gpt2Tokenizer.Shared.Decode(ids, skipSpecial: stripEndOfText),
        Gpt2Tokenizer.Shared.Encode,
        Gpt2Tokenizer.EndOfText);
}

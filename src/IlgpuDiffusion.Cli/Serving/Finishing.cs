using IlgpuDiffusion.Serving;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>What the answers say of a finished completion: each choice's <c>finish_reason</c> and the token counts.</summary>
internal static class Finishing
{
    /// <summary>
    /// The <c>finish_reason</c> of choice <paramref name="index"/>: <c>"stop"</c> when it ended with its end-of-text token,
    /// else <c>"length"</c>.
    /// </summary>
    public static string Reason(TextCompletion completion, int index) =>
        index < completion.FinishReasons.Count ? completion.FinishReasons[index] : completion.FinishReason;

    /// <summary>The <c>usage</c> object of <paramref name="completion"/>.</summary>
    public static Usage Usage(TextCompletion completion) => new(completion.PromptTokens, completion.CompletionTokens);

    /// <summary>The completion a stream's final update carries.</summary>
    /// <exception cref="InvalidOperationException">The engine sent a final update without it.</exception>
    public static TextCompletion Of(TextUpdate final) =>
        final.Completion ?? throw new InvalidOperationException("The engine's final update carries no completion.");
}

using System.Text.Json;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// The body of <c>POST /v1/completions</c>: OpenAI's fields, plus <c>steps</c> (denoising steps) and <c>stream_states</c>
/// (stream every denoising state, not only the final text). Fields the server does not use are ignored.
/// </summary>
internal sealed class CompletionBody : SamplingBody
{
    /// <summary>The prompt: a string, or an array of one string.</summary>
    public JsonElement? Prompt { get; init; }

    /// <summary>Text the completion ends with (the sampler fills in between).</summary>
    public string? Suffix { get; init; }

    /// <summary>Whether the stream carries every denoising state, each chunk's text the whole current state.</summary>
    public bool StreamStates { get; init; }
}

using System.Text.Json;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>The body of <c>POST /v1/chat/completions</c>: OpenAI's fields, plus <c>steps</c>; others are ignored.</summary>
internal sealed class ChatBody : SamplingBody
{
    /// <summary>The conversation so far.</summary>
    public IReadOnlyList<ChatMessageBody?>? Messages { get; init; }

    /// <summary>The newer name of <see cref="SamplingBody.MaxTokens"/>.</summary>
    public int? MaxCompletionTokens { get; init; }
}

/// <summary>One message: a role and its content, a string or an array of <c>{"type": "text", "text": ...}</c> parts.</summary>
internal sealed class ChatMessageBody
{
    /// <summary>system, user, assistant, ...</summary>
    public string? Role { get; init; }

    /// <summary>The text, or its parts.</summary>
    public JsonElement? Content { get; init; }
}

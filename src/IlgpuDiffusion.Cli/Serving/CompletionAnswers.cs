namespace IlgpuDiffusion.Cli.Serving;

/// <summary>The answer of <c>/v1/completions</c>, and each chunk of its stream (<c>object</c> "text_completion").</summary>
internal sealed record CompletionAnswer(string Id, string Object, long Created, string Model,
    IReadOnlyList<CompletionChoice> Choices, Usage? Usage);

/// <summary>One completion: its text and why it ended (null in a stream chunk that is not the last).</summary>
internal sealed record CompletionChoice(int Index, string Text, object? Logprobs, string? FinishReason);

/// <summary>The answer of <c>/v1/chat/completions</c> (<c>object</c> "chat.completion").</summary>
internal sealed record ChatAnswer(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices,
    Usage Usage);

/// <summary>One chat completion: the assistant's message and why it ended.</summary>
internal sealed record ChatChoice(int Index, ChatMessage Message, string FinishReason);

/// <summary>A message of the answer.</summary>
internal sealed record ChatMessage(string Role, string? Content);

/// <summary>A chunk of a chat stream (<c>object</c> "chat.completion.chunk").</summary>
internal sealed record ChatChunk(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices,
    Usage? Usage);

/// <summary>What a chat chunk adds to one choice.</summary>
internal sealed record ChatChunkChoice(int Index, ChatMessage Delta, string? FinishReason);

/// <summary>Token counts of a request.</summary>
internal sealed record Usage(int PromptTokens, int CompletionTokens)
{
    /// <summary>Prompt and completion tokens together.</summary>
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>The answer of <c>/v1/models</c>.</summary>
internal sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

/// <summary>The served model.</summary>
internal sealed record ModelCard(string Id, string Object, long Created, string OwnedBy);

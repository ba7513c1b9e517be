using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace IlgpuDiffusion.Serving;

/// <summary>
/// An <see cref="IChatClient"/> over a <see cref="TextGenerationEngine"/>: the messages (and
/// <see cref="ChatOptions.Instructions"/> as a first system message) become one prompt through
/// <see cref="ChatPromptTemplate"/>, and the answer is the model's continuation of it. <see cref="ChatOptions"/> map to a
/// <see cref="TextRequest"/>: <see cref="ChatOptions.MaxOutputTokens"/>, <see cref="ChatOptions.Temperature"/>,
/// <see cref="ChatOptions.TopP"/>, <see cref="ChatOptions.Seed"/> and the denoising steps as
/// <c>AdditionalProperties["steps"]</c>; other options are ignored. Streaming yields the new text of each token for GPT;
/// a diffusion model reveals its tokens anywhere in the text at once, so its stream is one update with the finished text.
/// The engine stays the caller's to dispose.
/// </summary>
public sealed class TextGenerationChatClient : IChatClient
{
    /// <summary>The <see cref="ChatOptions.AdditionalProperties"/> key of the denoising steps.</summary>
    public const string StepsProperty = "steps";

    private readonly TextGenerationEngine _engine;
    private readonly ChatClientMetadata _metadata;

    /// <summary>A chat client that generates with <paramref name="engine"/>.</summary>
    public TextGenerationChatClient(TextGenerationEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        _metadata = new ChatClientMetadata("ilgpu-diffusion", providerUri: null, engine.ModelName);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">An option is out of range or unsupported by the model; the message says which.</exception>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        TextCompletion completion = await _engine.CompleteAsync(Request(messages, options), cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, completion.Texts[0]))
        {
            ResponseId = NewId(),
            ModelId = _engine.ModelName,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = FinishReason(completion),
            Usage = Usage(completion),
        };
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">An option is out of range or unsupported by the model; the message says which.</exception>
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        TextRequest request = Request(messages, options);
        return Stream(request, cancellationToken);
    }

    /// <summary>The client's <see cref="ChatClientMetadata"/>, the engine, or the client itself, as asked.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Frees nothing: the engine stays the caller's.</summary>
    public void Dispose()
    {
    }

    private async IAsyncEnumerable<ChatResponseUpdate> Stream(TextRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string id = NewId(), sent = "";
        await foreach (TextUpdate update in _engine.StreamAsync(request, cancellationToken).ConfigureAwait(false))
        {
            if (!update.Final && _engine.IsDiffusion) continue;
            string text = update.Texts[0];
            // A token may end inside a multi-byte character, decoded for now as U+FFFD: wait for the character's end.
            if (!update.Final) text = text.TrimEnd('\uFFFD');
            string delta = text.StartsWith(sent, StringComparison.Ordinal) ? text[sent.Length..] : "";
            sent += delta;
            if (!update.Final)
            {
                if (delta.Length > 0) yield return Update(id, delta);
                continue;
            }
            ChatResponseUpdate last = Update(id, delta);
            if (update.Completion is { } completion)
            {
                last.FinishReason = FinishReason(completion);
                last.Contents.Add(new UsageContent(Usage(completion)));
            }
            yield return last;
        }
    }

    private ChatResponseUpdate Update(string id, string text) => new(ChatRole.Assistant, text)
    {
        ResponseId = id,
        MessageId = id,
        ModelId = _engine.ModelName,
        CreatedAt = DateTimeOffset.UtcNow,
    };

    private static TextRequest Request(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        IEnumerable<ChatMessage> conversation = string.IsNullOrEmpty(options?.Instructions)
            ? messages
            : messages.Prepend(new ChatMessage(ChatRole.System, options.Instructions));
        return new TextRequest
        {
            Prompt = ChatPromptTemplate.Render(conversation),
            MaxTokens = options?.MaxOutputTokens,
            Temperature = options?.Temperature ?? 1f,
            TopP = options?.TopP ?? 1f,
            Seed = options?.Seed is long seed ? unchecked((ulong)seed) : null,
            Steps = Steps(options),
        };
    }

    private static int? Steps(ChatOptions? options)
    {
        if (options?.AdditionalProperties is not { } properties || !properties.TryGetValue(StepsProperty, out object? value))
            return null;
        if (properties.TryGetValue(StepsProperty, out int steps)) return steps;
        throw new ArgumentException($"AdditionalProperties[\"{StepsProperty}\"] must be a whole number of denoising steps; got '{value}'.");
    }

    private static ChatFinishReason FinishReason(TextCompletion completion) =>
        completion.FinishReason == "stop" ? ChatFinishReason.Stop : ChatFinishReason.Length;

    private static UsageDetails Usage(TextCompletion completion) => new()
    {
        InputTokenCount = completion.PromptTokens,
        OutputTokenCount = completion.CompletionTokens,
        TotalTokenCount = completion.PromptTokens + completion.CompletionTokens,
    };

    private static string NewId() => "chat-" + Guid.NewGuid().ToString("N");
}

using IlgpuDiffusion.Serving;
using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// <c>POST /v1/chat/completions</c>: the assistant's reply to a conversation rendered with <see cref="ChatPromptTemplate"/>,
/// whole or as server-sent chunks (the role, then the reply as one <c>delta</c>, then the finish reason).
/// </summary>
internal sealed class ChatEndpoint(TextGenerationEngine engine, ServerOptions options)
{
    /// <summary>Answers one request; a disconnect cancels it (<see cref="HttpContext.RequestAborted"/>).</summary>
    public async Task HandleAsync(HttpContext context)
    {
        CancellationToken cancellationToken = context.RequestAborted;
        ChatBody body = await RequestBodies.ReadAsync<ChatBody>(context.Request, cancellationToken);
        RequestRules.RequireModel(body, engine.ModelName);
        string maxTokensField = body.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens";
        TextRequest request = RequestRules.ToRequest(body, options, ChatPrompt.Render(body.Messages), suffix: null,
            body.MaxCompletionTokens ?? body.MaxTokens, maxTokensField);
        string id = $"chatcmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!body.Stream)
        {
            TextCompletion completion = await engine.CompleteAsync(request, cancellationToken);
            var choices = completion.Texts.Select((text, index) =>
                new ChatChoice(index, new ChatMessage("assistant", text), Finishing.Reason(completion, index))).ToList();
            await context.Response.WriteAsJsonAsync(new ChatAnswer(id, "chat.completion", created, engine.ModelName, choices,
                Finishing.Usage(completion)), ServingJson.Options, cancellationToken);
            return;
        }
        var events = new ServerSentEvents(context.Response);
        int samples = request.Samples;
        await events.WriteAsync(Chunk(id, created, Enumerable.Range(0, samples)
            .Select(index => new ChatChunkChoice(index, new ChatMessage("assistant", ""), null))), cancellationToken);
        await foreach (TextUpdate update in engine.StreamAsync(request, cancellationToken))
        {
            if (!update.Final) continue;
            TextCompletion finished = Finishing.Of(update);
            await events.WriteAsync(Chunk(id, created, update.Texts.Select((text, index) =>
                new ChatChunkChoice(index, new ChatMessage("assistant", text), null))), cancellationToken);
            await events.WriteAsync(Chunk(id, created, update.Texts.Select((_, index) =>
                new ChatChunkChoice(index, new ChatMessage("assistant", null), Finishing.Reason(finished, index)))), cancellationToken);
            if (body.StreamOptions?.IncludeUsage == true)
                await events.WriteAsync(Chunk(id, created, []) with { Usage = Finishing.Usage(finished) }, cancellationToken);
        }
        await events.CompleteAsync(cancellationToken);
    }

    private ChatChunk Chunk(string id, long created, IEnumerable<ChatChunkChoice> choices) =>
        new(id, "chat.completion.chunk", created, engine.ModelName, [.. choices], null);
}

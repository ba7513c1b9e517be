using System.Text.Json;
using IlgpuDiffusion.Serving;
using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// Answers a request that failed with an OpenAI-style error object, its status chosen by what went wrong; the server goes
/// on serving. A client that went away gets nothing (its request is cancelled).
/// </summary>
internal static class ApiErrors
{
    /// <summary>Runs <paramref name="handle"/>, answering its failure as an error object.</summary>
    public static async Task GuardAsync(HttpContext context, Func<HttpContext, Task> handle)
    {
        try
        {
            await handle(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client disconnected: its request is cancelled and there is no one to answer.
        }
        catch (Exception e)
        {
            ApiException error = From(e, context.Request.Path);
            if (context.Response.HasStarted)
            {
                // A stream already sent its status: the error goes out as its last event.
                byte[] json = JsonSerializer.SerializeToUtf8Bytes(error.Body(), ServingJson.Options);
                byte[] line = [.. "data: "u8, .. json, .. "\n\n"u8];
                await context.Response.Body.WriteAsync(line);
                return;
            }
            context.Response.StatusCode = error.Status;
            await context.Response.WriteAsJsonAsync(error.Body(), ServingJson.Options);
        }
    }

    /// <summary>The answer to a failure of a request to <paramref name="route"/>.</summary>
    public static ApiException From(Exception e, PathString route) => e switch
    {
        ApiException api => api,
        EngineBusyException => new ApiException(StatusCodes.Status429TooManyRequests, e.Message, code: "queue_full",
            type: "rate_limit_error"),
        ArgumentException argument => new ApiException(StatusCodes.Status400BadRequest, WithoutParameterName(argument),
            RequestField(argument.ParamName, route)),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => new ApiException(
            StatusCodes.Status413PayloadTooLarge, $"The request body is over the server's limit of {ServerOptions.MaxBodyBytes} bytes.",
            code: "request_too_large"),
        BadHttpRequestException bad => new ApiException(bad.StatusCode, $"The request could not be read: {bad.Message}"),
        OperationCanceledException or ObjectDisposedException => new ApiException(StatusCodes.Status503ServiceUnavailable,
            "The server is shutting down; the request was cancelled.", type: "server_error"),
        _ => new ApiException(StatusCodes.Status500InternalServerError,
            $"The server failed on this request: {e.Message} (internal error {e.GetType().Name}).", type: "server_error"),
    };

    /// <summary>The answer to a path the server does not have.</summary>
    public static Task UnknownRouteAsync(HttpContext context) => GuardAsync(context, c =>
        throw new ApiException(StatusCodes.Status404NotFound, $"There is no route {c.Request.Method} {c.Request.Path}; this server " +
            "answers GET /v1/models, POST /v1/completions and POST /v1/chat/completions.", code: "unknown_route"));

    /// <summary>
    /// The request field that an engine's <see cref="TextRequest"/> property comes from (a chat's prompt is its rendered
    /// messages); null for an error that names no property.
    /// </summary>
    private static string? RequestField(string? property, PathString route) => property switch
    {
        nameof(TextRequest.Prompt) => route.Value?.EndsWith("/chat/completions", StringComparison.Ordinal) == true
            ? "messages" : "prompt",
        nameof(TextRequest.Suffix) => "suffix",
        nameof(TextRequest.MaxTokens) => "max_tokens",
        nameof(TextRequest.Samples) => "n",
        nameof(TextRequest.Temperature) => "temperature",
        nameof(TextRequest.TopP) => "top_p",
        nameof(TextRequest.Steps) => "steps",
        _ => null,
    };

    /// <summary>An argument error's message without the " (Parameter 'name')" that .NET appends.</summary>
    private static string WithoutParameterName(ArgumentException e) =>
        e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
}

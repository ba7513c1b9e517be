using System.Text;
using System.Text.Json;
using IlgpuDiffusion.Serving;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>The prompt of a chat request: its messages checked and rendered with <see cref="ChatPromptTemplate"/>.</summary>
internal static class ChatPrompt
{
    /// <summary>The rendered conversation.</summary>
    /// <exception cref="ApiException">No messages, or a message without a role or with content that is not text.</exception>
    public static string Render(IReadOnlyList<ChatMessageBody?>? messages)
    {
        if (messages is null || messages.Count == 0)
            throw ApiException.Invalid("messages", "messages must be a non-empty array of {\"role\", \"content\"} objects.");
        var turns = new List<(string Role, string Content)>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            ChatMessageBody message = messages[i] ?? throw ApiException.Invalid($"messages[{i}]", $"messages[{i}] is null.");
            if (string.IsNullOrWhiteSpace(message.Role))
                throw ApiException.Invalid($"messages[{i}].role", $"messages[{i}] has no role (system, user or assistant).");
            turns.Add((message.Role, Content(message.Content, i)));
        }
        return ChatPromptTemplate.Render(turns);
    }

    /// <summary>A message's text: a string, or the concatenated text of its <c>{"type": "text"}</c> parts.</summary>
    private static string Content(JsonElement? content, int index)
    {
        string field = $"messages[{index}].content";
        switch (content)
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return "";
            case { ValueKind: JsonValueKind.String } text:
                return text.GetString()!;
            case { ValueKind: JsonValueKind.Array } parts:
                var joined = new StringBuilder();
                foreach (JsonElement part in parts.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out JsonElement type) ||
                        type.ValueKind != JsonValueKind.String || type.GetString() != "text" ||
                        !part.TryGetProperty("text", out JsonElement text) || text.ValueKind != JsonValueKind.String)
                        throw ApiException.Invalid(field, $"{field} has a part that is not {{\"type\": \"text\", \"text\": ...}}; " +
                            "this model reads text only.");
                    joined.Append(text.GetString());
                }
                return joined.ToString();
            default:
                throw ApiException.Invalid(field,
                    $"{field} must be a string or an array of text parts; got {RequestRules.Kind(content.Value)}.");
        }
    }
}

//! Drag-and-drop CSV upload with a preview before anything is saved, and the download link
//! (SPEC §4). The browser sends the file as it is (any encoding; the server detects it) and shows
//! the upload's progress; the preview pages, so a 100 000-line file does not freeze the page.

use leptos::prelude::*;
use leptos::wasm_bindgen::closure::Closure;
use leptos::wasm_bindgen::JsCast;
use web_sys::{DragEvent, File, HtmlInputElement, ProgressEvent, XmlHttpRequest};

use crate::i18n::{use_texts, Lang};
use domain::csv::{ApplyReport, Column, LineStatus, Preview, FINGERPRINT_HEADER};

use super::TableContext;

/// Lines of the preview shown per page.
const PREVIEW_PAGE: usize = 50;

/// The file the NAP picked, kept for the apply request.
#[derive(Clone)]
struct Picked(File);

// SAFETY: a `File` exists only in the browser, which runs this code on its one thread; on the
// server no file is ever picked (the value stays `None`). Without this, a `StoredValue::new_local`
// would be needed, whose value the server may drop on another thread than the one that made it
// (a panic that left server-rendered pages hanging).
unsafe impl Send for Picked {}
unsafe impl Sync for Picked {}

#[derive(Clone, Debug, PartialEq)]
enum Stage {
    Idle,
    /// Percent sent (0–99; 100 means the server is checking it).
    Uploading(u32),
    Checking,
    /// The server's preview, as JSON: read and shown by [`preview_of`].
    Preview(String),
    Applied(ApplyReport),
    Failed(String),
}

/// Sends `file` to `url`; `on_progress` gets the percent sent (0–100) while uploading; `done` gets the status and body.
fn send(
    url: &str,
    file: &File,
    fingerprint: Option<&str>,
    on_progress: impl Fn(u32) + 'static,
    done: impl Fn(u16, String) + 'static,
) {
    let Ok(xhr) = XmlHttpRequest::new() else {
        done(0, "The browser cannot send files.".into());
        return;
    };
    if xhr.open("POST", url).is_err() {
        done(0, "The upload could not start.".into());
        return;
    }
    let _ = xhr.set_request_header("content-type", "application/octet-stream");
    if let Some(f) = fingerprint {
        let _ = xhr.set_request_header(FINGERPRINT_HEADER, f);
    }
    if let Ok(upload) = xhr.upload() {
        let progress = Closure::<dyn Fn(ProgressEvent)>::new(move |ev: ProgressEvent| {
            if ev.length_computable() && ev.total() > 0.0 {
                // Whole percents: the client never formats a float (f64 formatting alone is ~14 KB of WASM).
                on_progress((ev.loaded() * 100.0 / ev.total()) as u32);
            }
        });
        upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        progress.forget();
    }
    let request = xhr.clone();
    // `loadend` fires for success and failure alike, so it is the one place that reports back.
    let finished = Closure::<dyn Fn()>::new(move || {
        done(
            request.status().unwrap_or(0),
            request.response_text().ok().flatten().unwrap_or_default(),
        );
    });
    xhr.set_onloadend(Some(finished.as_ref().unchecked_ref()));
    finished.forget();
    // A failure to send also ends in `loadend` (status 0), which reports it.
    let _ = xhr.send_with_opt_blob(Some(file));
}

/// The upload box: drop zone, file picker, preview, apply; and the download links (the upload's
/// own format, and one for Excel on a German Windows).
#[component]
pub fn CsvUpload(domain: Memo<String>) -> impl IntoView {
    let t = use_texts();
    let ctx = expect_context::<TableContext>();
    let stage = RwSignal::new(Stage::Idle);
    let dragging = RwSignal::new(false);
    let file = StoredValue::new(None::<Picked>);
    let page = RwSignal::new(0usize);

    let preview = move |f: File| {
        stage.set(Stage::Uploading(0));
        page.set(0);
        let url = format!("/domains/{}/csv/preview", domain.get_untracked());
        send(
            &url,
            &f,
            None,
            move |p| {
                stage.set(if p >= 100 {
                    Stage::Checking
                } else {
                    Stage::Uploading(p)
                })
            },
            move |status, body| {
                stage.set(match status {
                    200 => Stage::Preview(body),
                    _ => Stage::Failed(if body.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        body
                    }),
                })
            },
        );
        file.set_value(Some(Picked(f)));
    };
    let apply = move |fingerprint: String| {
        let Some(Picked(f)) = file.get_value() else {
            return;
        };
        stage.set(Stage::Uploading(0));
        let url = format!("/domains/{}/csv/apply", domain.get_untracked());
        send(
            &url,
            &f,
            Some(&fingerprint),
            move |p| {
                stage.set(if p >= 100 {
                    Stage::Checking
                } else {
                    Stage::Uploading(p)
                })
            },
            move |status, body| match (status, serde_json::from_str::<ApplyReport>(&body)) {
                (200, Ok(r)) => {
                    stage.set(Stage::Applied(r));
                    ctx.reload.update(|n| *n += 1);
                }
                _ => stage.set(Stage::Failed(body)),
            },
        );
    };

    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(f) = ev
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|l| l.get(0))
        {
            preview(f);
        }
    };
    let on_pick = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(f) = input.files().and_then(|l| l.get(0)) {
            preview(f);
        }
        input.set_value("");
    };

    view! {
        <details class="csv-upload">
            <summary>{move || t.get().csv_heading}</summary>
            <div class="drop-zone" class:dragging=dragging
                on:dragover=move |ev: DragEvent| { ev.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop>
                <p>{move || t.get().csv_drop}</p>
                <label class="button">
                    {move || t.get().csv_choose}
                    <input type="file" accept=".csv,text/csv,text/plain" class="visually-hidden" on:change=on_pick/>
                </label>
                <a rel="external" download href=move || format!("/domains/{}/csv", domain.get())>{move || t.get().csv_download}</a>
                <a rel="external" download href=move || format!("/domains/{}/csv?format=excel-de", domain.get())>{move || t.get().csv_download_excel_de}</a>
            </div>
            {move || match stage.get() {
                Stage::Idle => ().into_any(),
                Stage::Uploading(p) => view! {
                    <p>{move || t.get().csv_uploading}" "<progress max="100" value=p></progress></p>
                }.into_any(),
                Stage::Checking => view! { <p>{move || t.get().csv_checking}</p> }.into_any(),
                // A refusal comes worded in the NAP's language by the server (`server::refusal`).
                Stage::Failed(msg) => view! { <p class="error" role="alert">{msg}</p> }.into_any(),
                Stage::Applied(r) => view! {
                    <p class="ok" role="status">
                        {move || t.get().csv_applied}" "{r.created}" "{move || t.get().csv_new}", "
                        {r.changed}" "{move || t.get().csv_changed}", "{r.unchanged}" "{move || t.get().csv_unchanged}
                    </p>
                }.into_any(),
                Stage::Preview(body) => {
                    let apply = Callback::new(apply);
                    let discard = Callback::new(move |()| stage.set(Stage::Idle));
                    view! {
                        <Suspense fallback=move || view! { <p>{move || t.get().csv_checking}</p> }>
                            {move || Suspend::new(preview_of(body.clone(), page, apply, discard))}
                        </Suspense>
                    }.into_any()
                }
            }}
        </details>
    }
}

/// The preview of a checked file: the server's JSON read and shown by code in a module of its own
/// (SPEC P4: the table page's first load carries none of it). The table preloads that module once
/// it is hydrated (`preload_lazy_parts`), so the first preview does not wait for it.
#[lazy]
pub fn preview_of(
    body: String,
    page: RwSignal<usize>,
    apply: Callback<String>,
    discard: Callback<()>,
) -> AnyView {
    match serde_json::from_str::<Preview>(&body) {
        Ok(p) => preview_view(p, page, apply, discard).into_any(),
        Err(_) => view! { <p class="error" role="alert">{body}</p> }.into_any(),
    }
}

fn preview_view(
    p: Preview,
    page: RwSignal<usize>,
    apply: Callback<String>,
    discard: Callback<()>,
) -> impl IntoView {
    let t = use_texts();
    let lang = crate::i18n::use_lang();
    let has_errors = !p.errors.is_empty();
    let fingerprint = p.fingerprint.clone();
    let lines = StoredValue::new(p.lines);
    let pages = lines.with_value(|l| l.len().div_ceil(PREVIEW_PAGE)).max(1);
    let missing = p.missing.len();
    view! {
        <div class="csv-preview">
            <h3>{move || t.get().csv_preview_heading}</h3>
            <p class="counts">
                <strong>{p.new}</strong>" "{move || t.get().csv_new}" · "
                <strong>{p.changed}</strong>" "{move || t.get().csv_changed}" · "
                <strong>{p.unchanged}</strong>" "{move || t.get().csv_unchanged}
                {(missing > 0).then(|| view! { " · "<strong>{missing}</strong>" "{move || t.get().csv_missing} })}
            </p>
            {has_errors.then(|| view! {
                <div class="error" role="alert">
                    <p>{move || t.get().csv_errors}</p>
                    <table class="data csv-errors">
                        <thead><tr>
                            <th>{move || t.get().csv_line}</th>
                            <th>{move || t.get().csv_column}</th>
                            <th>{move || t.get().csv_message}</th>
                        </tr></thead>
                        <tbody>
                            {p.errors.iter().take(500).map(|e| view! {
                                <tr>
                                    <td>{e.line}</td>
                                    <td>{e.column.as_ref().map(|c| match lang.get() {
                                        Lang::En => c.to_string(),
                                        Lang::De => crate::messages::csv_column_de(c),
                                    })}</td>
                                    <td>{crate::messages::say(lang.get(), &e.message)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            <table class="data csv-lines">
                <thead><tr>
                    <th>{move || t.get().csv_line}</th>
                    <th>{move || t.get().col_primary}</th>
                    <th>{move || t.get().csv_what}</th>
                </tr></thead>
                <tbody>
                    {move || lines.with_value(|all| {
                        let start = page.get() * PREVIEW_PAGE;
                        all.iter().skip(start).take(PREVIEW_PAGE).map(|l| view! {
                            <tr class:new={l.status == LineStatus::New}>
                                <td>{l.line}</td>
                                <td class="mono">{l.primary.clone()}</td>
                                <td>
                                    {if l.status == LineStatus::New { Some(view! { <span class="badge confirmed">{move || t.get().csv_new}</span> }) } else { None }}
                                    <ul class="changes">
                                        {l.changes.iter().map(|c| view! {
                                            <li><span class="muted">{let f = Column::of_field(c.field); if lang.get() == Lang::De { f.german() } else { f.english() }}": "</span><del>{c.before.clone()}</del>" \u{2192} "<ins>{c.after.clone()}</ins></li>
                                        }).collect_view()}
                                        {l.shown_consequences().iter().map(|c| view! { <li class="consequence">{crate::messages::say_consequence(lang.get(), c)}</li> }).collect_view()}
                                    </ul>
                                </td>
                            </tr>
                        }).collect_view()
                    })}
                </tbody>
            </table>
            <nav class="pager">
                <button type="button" disabled=move || page.get() == 0 on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>{move || t.get().previous}</button>
                <span>{move || page.get() + 1}" / "{pages}</span>
                <button type="button" disabled=move || { page.get() + 1 >= pages } on:click=move |_| page.update(|p| *p += 1)>{move || t.get().next}</button>
            </nav>
            <div class="buttons">
                <button type="button" class="primary" disabled=has_errors on:click=move |_| apply.run(fingerprint.clone())>
                    {move || t.get().csv_apply}
                </button>
                <button type="button" on:click=move |_| discard.run(())>{move || t.get().csv_discard}</button>
            </div>
        </div>
    }
}

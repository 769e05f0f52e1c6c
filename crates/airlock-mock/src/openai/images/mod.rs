//! OpenAI's image endpoints: `POST /v1/images/generations` (JSON) and
//! `POST /v1/images/edits` (a `multipart/form-data` form with `image` or
//! `image[]` files and an optional `mask`), and the URLs pictures are
//! answered at (`GET /blob/{name}`).
//!
//! Edits read their pictures from the bytes, never from the declared
//! content type: a file that is not a PNG, JPEG or WebP picture that
//! decodes is `Invalid image file or mode for image N, please check your
//! image file.` (`invalid_image_file`). dall-e-2 takes one square PNG under
//! 4 MB, with transparency when there is no mask; GPT Image models up to 16
//! pictures; a mask is a PNG with an alpha channel of the first picture's
//! size. An edit's `size: auto` draws the GPT Image size nearest the first
//! picture's shape; its pictures follow the prompt and the input bytes.

pub mod answer;
pub mod rules;
pub mod store;

use axum::body::Body;
use bytes::Bytes;
use serde_json::Value;

use self::answer::Drawn;
use self::rules::{Delivery, Endpoint, Job};
use super::catalog::ImageFamily;
use super::errors::ApiError;
use super::form::{self, Form};
use super::routes::{read, success, with_openai_headers, wrong_method};
use super::{params, validate};
use crate::delivery::Payload;
use crate::picture::{self, ImageFormat, Upload};
use crate::prng::Digest;
use crate::routes::Call;

pub use self::store::Store;

/// The largest edit form read.
pub const EDIT_FORM_LIMIT: u64 = 64 * 1024 * 1024;
/// The largest picture dall-e-2 edits.
const DALL_E_2_MAX_BYTES: usize = 4 * 1024 * 1024;
/// The most pictures a GPT Image edit takes.
const MAX_EDIT_PICTURES: usize = 16;

pub async fn generations(call: &Call<'_>, body: Body) -> Payload {
    if let Some(p) = wrong_method(call, http::Method::POST) {
        return p;
    }
    let body = match read(call, body).await {
        Ok(b) => b,
        Err(p) => return p,
    };
    let job = validate::check(params::IMAGE_GENERATION, &body)
        .and_then(|()| rules::resolve(&body, Endpoint::Generations));
    match job {
        Ok(job) => {
            let digest = Digest::new(call.server.seed())
                .part(job.model.id)
                .part(&job.prompt);
            respond(call, &job, digest, Endpoint::Generations, 0)
        }
        Err(e) => e.payload(),
    }
}

pub async fn edits(call: &Call<'_>, body: Body) -> Payload {
    if let Some(p) = wrong_method(call, http::Method::POST) {
        return p;
    }
    let form = match form::read(call, body, params::IMAGE_EDIT, EDIT_FORM_LIMIT).await {
        Ok(f) => f,
        Err(p) => return p,
    };
    let checked = validate::check(params::IMAGE_EDIT, &form.body)
        .and_then(|()| rules::resolve(&form.body, Endpoint::Edits))
        .and_then(|job| inputs(&job, &form).map(|pictures| (job, pictures)));
    let (mut job, pictures) = match checked {
        Ok(checked) => checked,
        Err(e) => return e.payload(),
    };
    if job.gpt_image()
        && job.asked_size == "auto"
        && let Some(first) = pictures.first()
    {
        (job.width, job.height) = rules::auto_size_for(first.width, first.height);
    }
    let digest = form
        .files
        .iter()
        .filter(|f| f.name == "image" || f.name == "mask")
        .fold(
            Digest::new(call.server.seed())
                .part(job.model.id)
                .part(&job.prompt),
            |d, f| d.part(&f.bytes),
        );
    respond(call, &job, digest, Endpoint::Edits, pictures.len())
}

/// The edit's input pictures, checked against the model's rules (and the
/// mask against the first picture).
fn inputs(job: &Job, form: &Form) -> Result<Vec<Upload>, ApiError> {
    let files = form.files("image");
    if files.is_empty() {
        return Err(ApiError::invalid(
            "Missing required parameter: 'image'.",
            Some("image"),
            Some("missing_required_parameter"),
        ));
    }
    let most = match job.family {
        ImageFamily::DallE2 => 1,
        _ => MAX_EDIT_PICTURES,
    };
    if files.len() > most {
        return Err(ApiError::invalid(
            format!(
                "Invalid 'image': array too long. Expected an array with maximum length {most}, but got an array with length {} instead.",
                files.len()
            ),
            Some("image"),
            Some("array_above_max_length"),
        ));
    }
    let mut pictures = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        if job.family == ImageFamily::DallE2
            && (file.bytes.len() >= DALL_E_2_MAX_BYTES
                || ImageFormat::sniff(&file.bytes) != Some(ImageFormat::Png))
        {
            return Err(ApiError::invalid(
                "Uploaded image must be a PNG and less than 4 MB.",
                Some("image"),
                None,
            ));
        }
        let Some(picture) = picture::inspect(&file.bytes) else {
            return Err(ApiError::invalid(
                format!(
                    "Invalid image file or mode for image {}, please check your image file.",
                    i + 1
                ),
                Some("image"),
                Some("invalid_image_file"),
            ));
        };
        pictures.push(picture);
    }
    let Some(&first) = pictures.first() else {
        return Ok(pictures);
    };
    let mask = form.files("mask").first().map(|m| m.bytes.clone());
    if job.family == ImageFamily::DallE2 {
        if first.width != first.height {
            return Err(ApiError::invalid(
                format!(
                    "Invalid input image - image must be square, got {}x{}.",
                    first.width, first.height
                ),
                Some("image"),
                None,
            ));
        }
        if mask.is_none() && !first.alpha {
            return Err(no_alpha("image"));
        }
    }
    if let Some(mask) = mask {
        check_mask(&mask, first)?;
    }
    Ok(pictures)
}

fn no_alpha(param: &str) -> ApiError {
    ApiError::invalid(
        "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB.",
        Some(param),
        None,
    )
}

fn check_mask(mask: &Bytes, first: Upload) -> Result<(), ApiError> {
    let Some(read) = picture::inspect(mask).filter(|m| m.format == ImageFormat::Png) else {
        return Err(ApiError::invalid(
            "Invalid image file or mode for mask, please check your image file.",
            Some("mask"),
            Some("invalid_image_file"),
        ));
    };
    if !read.alpha {
        return Err(no_alpha("mask"));
    }
    if (read.width, read.height) != (first.width, first.height) {
        return Err(ApiError::invalid(
            format!(
                "Invalid mask image - the mask must have the same dimensions as the image ({}x{}), got {}x{}.",
                first.width, first.height, read.width, read.height
            ),
            Some("mask"),
            None,
        ));
    }
    Ok(())
}

/// The answer: whole (URLs kept in the store) or streamed.
fn respond(
    call: &Call<'_>,
    job: &Job,
    digest: Digest,
    endpoint: Endpoint,
    input_pictures: usize,
) -> Payload {
    if job.stream {
        let events = answer::events(job, digest, endpoint, input_pictures);
        return with_openai_headers(
            call,
            Payload::stream("text/event-stream; charset=utf-8", events, None),
        );
    }
    let origin = origin(call);
    let drawn: Vec<Drawn> = answer::draw(job, digest)
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| {
            let url = (job.delivery == Delivery::Url).then(|| {
                let name = answer::blob_name(
                    Digest::new(call.server.seed())
                        .part("blob")
                        .number(call.serial)
                        .number(i as u64),
                    job.format,
                );
                call.server
                    .images()
                    .keep(name.clone(), job.format, Bytes::from(bytes.clone()));
                format!("{origin}{}{name}", store::PREFIX)
            });
            Drawn { bytes, url }
        })
        .collect();
    let whole: Value = answer::whole(job, digest, &drawn, input_pictures);
    success(call, &whole).paced(drawn.len())
}

/// `http://host:port` as the client reached the simulator.
fn origin(call: &Call<'_>) -> String {
    let host = call
        .parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| call.parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("http://{host}")
}
